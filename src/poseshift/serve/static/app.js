// poseshift serve: the page. Plain JavaScript, no dependencies; talks to /api/*.
"use strict";
const JOINTS = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
  "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"];
const LIMBS = [[1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10], [1, 11], [11, 12],
  [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17]];
const $ = (id) => document.getElementById(id);
const state = { file: null, img: null, w: 0, h: 0, source: null, target: null, hidden: new Array(18).fill(false),
  drag: -1, gallery: [] };

function status(text) { $("status").textContent = text; }

function scaleOf(canvas) { return Math.min(canvas.width / state.w, canvas.height / state.h); }

function draw(canvas, kp, hidden) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!state.img) return;
  const s = scaleOf(canvas);
  ctx.globalAlpha = canvas.id === "editor" ? 0.35 : 1.0;
  ctx.drawImage(state.img, 0, 0, state.w * s, state.h * s);
  ctx.globalAlpha = 1.0;
  if (!kp) return;
  const shown = (i) => kp[i] && !(hidden && hidden[i]);
  ctx.lineWidth = 3; ctx.strokeStyle = "#1f77b4";
  for (const [a, b] of LIMBS) {
    if (shown(a) && shown(b)) {
      ctx.beginPath(); ctx.moveTo(kp[a][0] * s, kp[a][1] * s); ctx.lineTo(kp[b][0] * s, kp[b][1] * s); ctx.stroke();
    }
  }
  for (let i = 0; i < 18; i++) {
    if (!shown(i)) continue;
    ctx.fillStyle = JOINTS[i].startsWith("l_") ? "#2ca02c" : JOINTS[i].startsWith("r_") ? "#d62728" : "#ff7f0e";
    ctx.beginPath(); ctx.arc(kp[i][0] * s, kp[i][1] * s, 5, 0, 2 * Math.PI); ctx.fill();
  }
}

function redraw() {
  draw($("source"), state.source, null);
  draw($("editor"), state.target, state.hidden);
  const box = $("joints"); box.innerHTML = "";
  JOINTS.forEach((name, i) => {
    const label = document.createElement("label");
    const check = document.createElement("input");
    check.type = "checkbox"; check.checked = !state.hidden[i] && !!(state.target && state.target[i]);
    check.disabled = !(state.target && state.target[i]);
    check.dataset.joint = i;
    check.onchange = () => { state.hidden[i] = !check.checked; redraw(); };
    label.append(check, " " + name); box.append(label);
  });
  $("render").disabled = !(state.file && state.target);
  $("animate").disabled = !state.file;
}

async function api(path, form) {
  const res = await fetch(path, { method: "POST", body: form });
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

async function detect(file) {
  const form = new FormData(); form.append("image", file);
  return (await (await api("/api/pose", form)).json());
}

function fromShares(shares) { return shares.map((p) => (p ? [p[0] * state.w, p[1] * state.h] : null)); }

function setTarget(kp) { state.target = kp.map((p) => (p ? [p[0], p[1]] : null)); state.hidden.fill(false); redraw(); }

$("photo").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  state.file = file;
  const img = new Image();
  img.onload = async () => {
    state.img = img; state.w = img.naturalWidth; state.h = img.naturalHeight;
    status(`${state.w}x${state.h}: detecting the pose...`);
    try {
      const found = await detect(file);
      const any = found.keypoints.some((p) => p);
      state.source = any ? found.keypoints : null;
      status(any ? "Pose detected." : "No person detected: the target starts from the gallery.");
    } catch (e) { state.source = null; status("Pose detection failed: " + e.message); }
    setTarget(state.source || fromShares(state.gallery[Number($("gallery").value) || 0].keypoints));
  };
  img.src = URL.createObjectURL(file);
};

$("gallery").onchange = () => { if (state.img) setTarget(fromShares(state.gallery[Number($("gallery").value)].keypoints)); };

$("posephoto").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file || !state.img) return;
  try {
    const found = await detect(file);
    const shares = found.keypoints.map((p) => (p ? [p[0] / found.width, p[1] / found.height] : null));
    setTarget(fromShares(shares));
  } catch (e) { status("Pose detection failed: " + e.message); }
};

$("posefile").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  try {
    let obj = JSON.parse(await file.text());
    if (obj && obj.people) {  // OpenPose: people[0].pose_keypoints_2d, x y c triples (COCO-18)
      const flat = obj.people.length ? obj.people[0].pose_keypoints_2d : [];
      obj = JOINTS.map((_, i) => (flat[3 * i + 2] > 0 ? [flat[3 * i], flat[3 * i + 1]] : null));
    } else if (obj && !Array.isArray(obj)) { obj = Object.values(obj)[0]; }  // what poseshift pose writes
    if (!Array.isArray(obj) || obj.length !== 18) throw new Error("expected 18 [x, y] or null");
    setTarget(obj);
  } catch (e) { status("Keypoint file not read: " + e.message); }
};

function jointAt(canvas, ev) {
  const r = canvas.getBoundingClientRect();
  const s = scaleOf(canvas) * (r.width / canvas.width);
  const x = (ev.clientX - r.left) / s, y = (ev.clientY - r.top) / s;
  let best = -1, dist = 12 / s;
  (state.target || []).forEach((p, i) => {
    if (!p || state.hidden[i]) return;
    const d = Math.hypot(p[0] - x, p[1] - y);
    if (d < dist) { best = i; dist = d; }
  });
  return { best, x, y };
}

const editor = $("editor");
editor.onmousedown = (ev) => { state.drag = jointAt(editor, ev).best; };
editor.onmousemove = (ev) => {
  if (state.drag < 0) return;
  const { x, y } = jointAt(editor, ev);
  state.target[state.drag] = [Math.max(0, Math.min(state.w, x)), Math.max(0, Math.min(state.h, y))];
  redraw();
};
window.onmouseup = () => { state.drag = -1; };
editor.ondblclick = (ev) => { const { best } = jointAt(editor, ev); if (best >= 0) { state.hidden[best] = true; redraw(); } };

function targetJSON() { return JSON.stringify(state.target.map((p, i) => (p && !state.hidden[i] ? p : null))); }

$("render").onclick = async () => {
  const form = new FormData(); form.append("image", state.file); form.append("pose", targetJSON());
  if (state.source) form.append("source_pose", JSON.stringify(state.source));
  status("Rendering...");
  try {
    const url = URL.createObjectURL(await (await api("/api/transfer", form)).blob());
    $("result").src = url; $("result").hidden = false; $("download").href = url; $("download").hidden = false; status("Rendered.");
  } catch (e) { status("Render failed: " + e.message); }
};

$("animate").onclick = async () => {
  const form = new FormData(); form.append("image", state.file); form.append("motion", $("motion").value);
  if (state.source) form.append("source_pose", JSON.stringify(state.source));
  status("Animating...");
  try {
    $("animation").src = URL.createObjectURL(await (await api("/api/animate", form)).blob()); $("animation").hidden = false;
    status("Animated.");
  } catch (e) { status("Animation failed: " + e.message); }
};

fetch("/api/poses").then((r) => r.json()).then((poses) => {
  state.gallery = poses;
  poses.forEach((p, i) => { const o = document.createElement("option"); o.value = i; o.textContent = p.name; $("gallery").append(o); });
  redraw();
});

// poseshift serve: the page. Plain JavaScript, no dependencies; talks to /api/*.
"use strict";
const JOINTS = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
  "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"];
const LIMBS = [[1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10], [1, 11], [11, 12],
  [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17]];
const $ = (id) => document.getElementById(id);
// source: the photo's own pose (detected, or placed by hand where detection fails); sourceKnown: it
// was detected, loaded or edited, not only guessed; needsSource: the model warps the photo's own
// pixels, so it cannot render without one (/api/health).
const state = { file: null, img: null, w: 0, h: 0, source: null, sourceKnown: false, target: null,
  hidden: new Array(18).fill(false), drag: null, gallery: [], needsSource: false };

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

function copyPose(kp) { return kp.map((p) => (p ? [p[0], p[1]] : null)); }

function setTarget(kp) { state.target = copyPose(kp); state.hidden.fill(false); redraw(); }

function galleryPose() {  // null while the gallery has not loaded
  const entry = state.gallery[Number($("gallery").value) || 0];
  return entry ? fromShares(entry.keypoints) : null;
}

function placeSource() {
  // A starting skeleton for the user to drag onto the person: the gallery's first pose, its
  // height the photo's and centred (the gallery is in shares of a square frame), not stretched.
  const entry = state.gallery[0];
  state.sourceKnown = false;
  state.source = entry ? entry.keypoints.map((p) => (p ? [Math.max(0, Math.min(state.w, (p[0] - 0.5) * state.h + state.w / 2)),
    p[1] * state.h] : null)) : null;
}

$("photo").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  // The last photo's poses go with it: nothing of theirs may be sent with this one.
  Object.assign(state, { file, source: null, sourceKnown: false, target: null, drag: null });
  const img = new Image();
  img.onload = async () => {
    if (state.file !== file) return;  // a later upload replaced this one
    state.img = img; state.w = img.naturalWidth; state.h = img.naturalHeight;
    redraw();
    status(`${state.w}x${state.h}: detecting the pose...`);
    try {
      const found = await detect(file);
      if (state.file !== file) return;
      const any = found.keypoints.some((p) => p);
      if (any) { state.source = copyPose(found.keypoints); state.sourceKnown = true; } else placeSource();
      status(any ? "Pose detected; drag a joint on the photo to correct it."
        : state.needsSource ? "No person detected: drag the photo's skeleton onto the person (this model moves the photo's own pixels), then set the target."
          : "No person detected: the target starts from the gallery.");
    } catch (e) {
      if (state.file !== file) return;
      placeSource(); status("Pose detection failed: " + e.message + "; drag the photo's skeleton onto the person.");
    }
    const start = state.sourceKnown ? state.source : galleryPose();
    if (start) setTarget(start); else { redraw(); status("The pose gallery did not load: take the target from a photo or a keypoint file."); }
  };
  img.src = URL.createObjectURL(file);
};

$("gallery").onchange = () => { if (state.img && galleryPose()) setTarget(galleryPose()); };

$("posephoto").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file || !state.img) return;
  try {
    const found = await detect(file);
    const shares = found.keypoints.map((p) => (p ? [p[0] / found.width, p[1] / found.height] : null));
    setTarget(fromShares(shares));
  } catch (e) { status("Pose detection failed: " + e.message); }
};

async function readKeypointFile(file, photoName) {
  // -> 18 [x, y] or null, in the photo's pixels. A file naming several photos (what poseshift
  // pose writes for a folder) gives the entry named like the photo (x.jpg serves x.png).
  let obj = JSON.parse(await file.text());
  if (obj && obj.people) {  // OpenPose: people[0].pose_keypoints_2d, x y c triples (COCO-18)
    const flat = obj.people.length ? obj.people[0].pose_keypoints_2d : [];
    obj = JOINTS.map((_, i) => (flat[3 * i + 2] > 0 ? [flat[3 * i], flat[3 * i + 1]] : null));
  } else if (obj && !Array.isArray(obj)) {  // what poseshift pose writes: {name: [...]}
    const names = Object.keys(obj), stem = (n) => n.replace(/\.[^.]*$/, "");
    const pick = names.length === 1 ? names[0] : names.find((n) => n === photoName)
      || names.find((n) => photoName && stem(n) === stem(photoName));
    if (!pick) throw new Error(`${names.length} entries and none named ${photoName || "like the photo"}`);
    obj = obj[pick];
  }
  if (!Array.isArray(obj) || obj.length !== 18) throw new Error("expected 18 [x, y] or null");
  if (!obj.some((p) => p)) throw new Error("every joint is missing");
  return copyPose(obj);
}

$("posefile").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  try { setTarget(await readKeypointFile(file)); } catch (e) { status("Keypoint file not read: " + e.message); }
};

$("sourcefile").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  if (!state.img) { status("Upload the photo first, then its keypoint file."); return; }
  try {
    state.source = await readKeypointFile(file, state.file.name); state.sourceKnown = true; redraw();
    status("The photo's pose read from " + file.name + ".");
  } catch (e) { status("Keypoint file not read: " + e.message); }
};

// Both canvases are skeleton editors: "editor" moves the target's joints, "source" the photo's own.
const EDITS = { editor: { pose: () => state.target, hidden: () => state.hidden },
  source: { pose: () => state.source, hidden: () => null } };

function jointAt(canvas, ev) {
  const r = canvas.getBoundingClientRect();
  const s = scaleOf(canvas) * (r.width / canvas.width);
  const x = (ev.clientX - r.left) / s, y = (ev.clientY - r.top) / s;
  const hidden = EDITS[canvas.id].hidden();
  let best = -1, dist = 12 / s;
  (EDITS[canvas.id].pose() || []).forEach((p, i) => {
    if (!p || (hidden && hidden[i])) return;
    const d = Math.hypot(p[0] - x, p[1] - y);
    if (d < dist) { best = i; dist = d; }
  });
  return { best, x, y };
}

for (const id of Object.keys(EDITS)) {
  const canvas = $(id);
  // On a joint: that joint moves, keeping its offset from the pointer (no jump when grabbed
  // off-centre). Elsewhere: the whole skeleton moves (placing one on the person).
  canvas.onmousedown = (ev) => {
    const pose = EDITS[id].pose();
    if (!pose) return;
    const { best, x, y } = jointAt(canvas, ev);
    state.drag = { id, joint: best, x, y, start: copyPose(pose) };
  };
  canvas.onmousemove = (ev) => {
    const drag = state.drag;
    if (!drag || drag.id !== id) return;
    const { x, y } = jointAt(canvas, ev);
    const pose = EDITS[id].pose();
    // One shift for every moved joint, clamped so that none leaves the photo (the skeleton keeps its shape).
    const moved = drag.joint >= 0 ? [drag.start[drag.joint]] : drag.start.filter((p) => p);
    const xs = moved.map((p) => p[0]), ys = moved.map((p) => p[1]);
    const dx = Math.max(-Math.min(...xs), Math.min(state.w - Math.max(...xs), x - drag.x));
    const dy = Math.max(-Math.min(...ys), Math.min(state.h - Math.max(...ys), y - drag.y));
    drag.start.forEach((p, i) => { if (p && (drag.joint < 0 || i === drag.joint)) pose[i] = [p[0] + dx, p[1] + dy]; });
    if (id === "source") state.sourceKnown = true;
    redraw();
  };
}
window.onmouseup = () => { state.drag = null; };
const editor = $("editor");
editor.ondblclick = (ev) => { const { best } = jointAt(editor, ev); if (best >= 0) { state.hidden[best] = true; redraw(); } };

// The photo's pose goes with a request where it is known, or where the model cannot do without it.
function sourceJSON() { return state.source && (state.sourceKnown || state.needsSource) ? JSON.stringify(state.source) : null; }

function targetJSON() { return JSON.stringify(state.target.map((p, i) => (p && !state.hidden[i] ? p : null))); }

$("render").onclick = async () => {
  const form = new FormData(); form.append("image", state.file); form.append("pose", targetJSON());
  form.append("retarget", $("retarget").checked ? "true" : "false");
  if (sourceJSON()) form.append("source_pose", sourceJSON());
  status("Rendering...");
  try {
    const url = URL.createObjectURL(await (await api("/api/transfer", form)).blob());
    $("result").src = url; $("result").hidden = false; $("download").href = url; $("download").hidden = false; status("Rendered.");
  } catch (e) { status("Render failed: " + e.message); }
};

$("animate").onclick = async () => {
  const form = new FormData(); form.append("image", state.file); form.append("motion", $("motion").value);
  form.append("retarget", $("retarget").checked ? "true" : "false");
  const video = $("motionvideo").files[0];
  if (video) form.append("video", video);  // the motion of the video's person instead
  if (sourceJSON()) form.append("source_pose", sourceJSON());
  status("Animating...");
  try {
    $("animation").src = URL.createObjectURL(await (await api("/api/animate", form)).blob()); $("animation").hidden = false;
    status("Animated.");
  } catch (e) { status("Animation failed: " + e.message); }
};

fetch("/api/health").then((r) => r.json()).then((info) => { state.needsSource = !!info.needs_source_pose; })
  .catch(() => { state.needsSource = true; });  // unknown: send the photo's pose, which no model refuses

fetch("/api/poses").then((r) => r.json()).then((poses) => {
  state.gallery = poses;
  poses.forEach((p, i) => { const o = document.createElement("option"); o.value = i; o.textContent = p.name; $("gallery").append(o); });
  redraw();
}).catch((e) => status("The pose gallery did not load: " + e.message));

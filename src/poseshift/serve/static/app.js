// poseshift serve: the page. Plain JavaScript, no dependencies; talks to /api/*. The skeleton
// editors (SkeletonEditor, JOINTS, copyPose) come from skeleton.js, loaded before this file.
"use strict";
const $ = (id) => document.getElementById(id);
// The photo (img, its size and its object URL), and what is known of its own pose: sourceKnown: it
// was detected, loaded or edited, not only guessed; needsSource: the model warps the photo's own
// pixels, so it cannot render without one (/api/health).
const state = { file: null, img: null, w: 0, h: 0, url: null, sourceKnown: false, gallery: [], needsSource: false,
  rendered: null };

function status(text) { $("status").textContent = text; }

// Two editors of one kind: the photo's own pose ("source") and the target pose ("editor").
const editors = {
  source: new SkeletonEditor($("source"), $("sourcejoints"), state,
    { changed: () => { state.sourceKnown = true; refresh(); }, tell: status }),
  target: new SkeletonEditor($("editor"), $("joints"), state, { fade: 0.35, changed: () => refresh(), tell: status }),
};

function refresh() {
  $("render").disabled = !(state.file && editors.target.pose);
  $("animate").disabled = !state.file;
}

function redraw() { editors.source.draw(); editors.target.draw(); refresh(); }

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

function setTarget(kp) { editors.target.set(kp); refresh(); }

function galleryPose() {  // null while the gallery has not loaded
  const entry = state.gallery[Number($("gallery").value) || 0];
  return entry ? fromShares(entry.keypoints) : null;
}

function placeSource() {
  // A starting skeleton for the user to drag onto the person: the gallery's first pose, its
  // height the photo's and centred (the gallery is in shares of a square frame), not stretched.
  const entry = state.gallery[0];
  state.sourceKnown = false;
  editors.source.set(entry ? entry.keypoints.map((p) => (p ? [Math.max(0, Math.min(state.w, (p[0] - 0.5) * state.h + state.w / 2)),
    p[1] * state.h] : null)) : null);
}

// The render, over the photo: the slider (or a drag across the picture) shows the render left of
// the line and the photo right of it; 100 is all render, 0 all photo.
function showRender(url) {
  if (state.rendered) URL.revokeObjectURL(state.rendered);
  state.rendered = url;
  $("result").hidden = !url; $("wipeline").hidden = !url; $("wipe").disabled = !url;
  $("download").hidden = !url;
  if (url) { $("result").src = url; $("download").href = url; } else $("result").removeAttribute("src");
  wipe();
}

function wipe() {
  const v = Number($("wipe").value);
  $("result").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $("wipeline").style.left = v + "%";
}

$("wipe").oninput = wipe;
$("compare").onpointerdown = $("compare").onpointermove = (ev) => {
  if (!state.rendered || !(ev.buttons & 1)) return;
  const r = $("compare").getBoundingClientRect();
  $("wipe").value = Math.round(100 * Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)));
  wipe();
};

$("photo").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  // The last photo's poses and render go with it: nothing of theirs may be sent with this one.
  Object.assign(state, { file, sourceKnown: false });
  editors.source.set(null); editors.target.set(null); showRender(null); $("animation").hidden = true;
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = async () => {
    if (state.file !== file) return;  // a later upload replaced this one
    if (state.url) URL.revokeObjectURL(state.url);
    Object.assign(state, { img, url, w: img.naturalWidth, h: img.naturalHeight });
    $("before").src = url; $("before").hidden = false; $("compare").querySelector(".empty").hidden = true;
    redraw();
    status(`${state.w}x${state.h}: detecting the pose...`);
    try {
      const found = await detect(file);
      if (state.file !== file) return;
      const any = found.keypoints.some((p) => p);
      if (any) { editors.source.set(found.keypoints); state.sourceKnown = true; } else placeSource();
      status(any ? "Pose detected; drag a joint on the photo to correct it."
        : state.needsSource ? "No person detected: drag the photo's skeleton onto the person (this model moves the photo's own pixels), then set the target."
          : "No person detected: the target starts from the gallery.");
    } catch (e) {
      if (state.file !== file) return;
      placeSource(); status("Pose detection failed: " + e.message + "; drag the photo's skeleton onto the person.");
    }
    const start = state.sourceKnown ? editors.source.pose : galleryPose();
    if (start) setTarget(start); else { redraw(); status("The pose gallery did not load: take the target from a photo or a keypoint file."); }
  };
  img.onerror = () => { if (state.file === file) status(`${file.name}: not an image this browser can show.`); };
  img.src = url;
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
  let obj;
  try { obj = JSON.parse(await file.text()); } catch (e) { throw new Error("not JSON"); }
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
  if (obj.some((p) => p !== null && !(Array.isArray(p) && p.length >= 2 && p.slice(0, 2).every(Number.isFinite)))) {
    throw new Error("each joint must be [x, y] or null");
  }
  if (!obj.some((p) => p)) throw new Error("every joint is missing");
  return copyPose(obj);
}

$("posefile").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  if (!state.img) { status("Upload the photo first, then the target's keypoint file."); return; }
  try { setTarget(await readKeypointFile(file)); status("The target pose read from " + file.name + "."); } catch (e) {
    status("Keypoint file not read: " + e.message);
  }
};

$("sourcefile").onchange = async (ev) => {
  const file = ev.target.files[0]; if (!file) return;
  if (!state.img) { status("Upload the photo first, then its keypoint file."); return; }
  try {
    editors.source.set(await readKeypointFile(file, state.file.name)); state.sourceKnown = true; redraw();
    status("The photo's pose read from " + file.name + ".");
  } catch (e) { status("Keypoint file not read: " + e.message); }
};

// The photo's pose goes with a request where it is known, or where the model cannot do without it;
// hidden joints go as missing (null).
function sourceJSON() {
  return editors.source.pose && (state.sourceKnown || state.needsSource) ? JSON.stringify(editors.source.sent()) : null;
}

function targetJSON() { return JSON.stringify(editors.target.sent()); }

function refused() {  // why the poses cannot be sent as they are, in one line; null where they can
  if (!editors.target.shownCount()) return "every joint of the target is hidden or missing: tick one in its list";
  if (sourceJSON() && !editors.source.shownCount()) {
    return "every joint of the photo's pose is hidden or missing: tick or place some in its list";
  }
  return null;
}

$("render").onclick = async () => {
  if (refused()) { status("Cannot render: " + refused() + "."); return; }
  const form = new FormData(); form.append("image", state.file); form.append("pose", targetJSON());
  form.append("retarget", $("retarget").checked ? "true" : "false");
  if (sourceJSON()) form.append("source_pose", sourceJSON());
  const file = state.file;
  status("Rendering...");
  try {
    const blob = await (await api("/api/transfer", form)).blob();
    if (state.file !== file) return;  // a new photo meanwhile: this render is not of it
    showRender(URL.createObjectURL(blob)); status("Rendered: drag across the picture (or the slider) to compare with the photo.");
  } catch (e) { status("Render failed: " + e.message); }
};

$("animate").onclick = async () => {
  if (sourceJSON() && !editors.source.shownCount()) {
    status("Cannot animate: every joint of the photo's pose is hidden or missing: tick or place some in its list."); return;
  }
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

redraw();

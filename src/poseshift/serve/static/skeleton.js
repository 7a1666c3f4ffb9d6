// poseshift serve: the skeleton editor, one per canvas (the photo's own pose and the target pose).
// Plain JavaScript, no dependencies. A pose is 18 [x, y] in the photo's pixels, or null where a
// joint is missing; a hidden joint keeps its place (the list shows it again) and is sent as null.
"use strict";
const JOINTS = ["nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
  "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"];
const LIMBS = [[1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10], [1, 11], [11, 12],
  [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17]];
const copyPose = (kp) => kp.map((p) => (p ? [p[0], p[1]] : null));
const jointColour = (i) => (JOINTS[i].startsWith("l_") ? "#2ca02c" : JOINTS[i].startsWith("r_") ? "#d62728" : "#ff7f0e");

class SkeletonEditor {
  // canvas: where the photo and the pose are drawn and edited; list: the element that lists the
  // joints; photo: {img, w, h}, read at each draw (the page's state); fade: the photo's opacity
  // under the skeleton; changed(): after each edit by the user; tell(text): a line for the user.
  constructor(canvas, list, photo, { fade = 1, changed = () => {}, tell = () => {} } = {}) {
    Object.assign(this, { canvas, list, photo, fade, changed, tell });
    this.pose = null; this.hidden = new Array(18).fill(false); this.placing = -1; this.drag = null;
    canvas.addEventListener("mousedown", (ev) => this.down(ev));
    window.addEventListener("mousemove", (ev) => this.move(ev));
    window.addEventListener("mouseup", () => { this.drag = null; });
    canvas.addEventListener("contextmenu", (ev) => this.hideAt(ev));  // right-click a joint: hide it
    canvas.addEventListener("dblclick", (ev) => this.hideAt(ev));
    window.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && this.placing >= 0) this.arm(-1); });
    window.addEventListener("resize", () => this.draw());
  }

  set(kp) {  // a new pose (or null): nothing hidden, nothing being placed
    this.pose = kp ? copyPose(kp) : null; this.hidden.fill(false); this.placing = -1; this.draw();
  }

  sent() {  // what goes to the server: hidden joints as missing
    return this.pose && this.pose.map((p, i) => (p && !this.hidden[i] ? [p[0], p[1]] : null));
  }

  edited() { this.draw(); this.changed(); }

  shownCount() { return this.pose ? this.pose.filter((p, i) => p && !this.hidden[i]).length : 0; }

  view() {  // in CSS pixels: the photo's pixel (x, y) lies at (ox + x * s, oy + y * s) from the canvas's corner
    const r = this.canvas.getBoundingClientRect(), { w, h } = this.photo;
    const s = w && h ? Math.min(r.width / w, r.height / h) : 1;
    return { s, ox: (r.width - w * s) / 2, oy: (r.height - h * s) / 2, r };
  }

  at(ev) {  // the pointer in the photo's pixels, and the shown joint within 12 CSS pixels of it (-1: none)
    const { s, ox, oy, r } = this.view();
    const x = (ev.clientX - r.left - ox) / s, y = (ev.clientY - r.top - oy) / s;
    let best = -1, dist = 12 / s;
    (this.pose || []).forEach((p, i) => {
      if (!p || this.hidden[i]) return;
      const d = Math.hypot(p[0] - x, p[1] - y);
      if (d < dist) { best = i; dist = d; }
    });
    return { best, x, y };
  }

  arm(i) {  // joint i is placed by the next click on the canvas (-1: none)
    this.placing = i; this.canvas.classList.toggle("placing", i >= 0); this.draw();
    if (i >= 0) this.tell(`Click on the photo where the ${JOINTS[i]} is (Esc cancels).`);
  }

  down(ev) {
    if (ev.button !== 0 || !this.pose || !this.photo.img) return;
    let { best, x, y } = this.at(ev);
    if (this.placing >= 0) {  // place the missing joint here, and keep dragging it
      best = this.placing;
      x = Math.max(0, Math.min(this.photo.w, x)); y = Math.max(0, Math.min(this.photo.h, y));
      this.pose[best] = [x, y]; this.hidden[best] = false; this.arm(-1); this.edited();
      this.tell(`${JOINTS[best]} placed: drag it to fit.`);
    }
    // On a joint: that joint moves, keeping its offset from the pointer (no jump when grabbed
    // off-centre). Elsewhere: the whole skeleton moves (placing one on the person).
    this.drag = { joint: best, x, y, start: copyPose(this.pose) };
    ev.preventDefault();
  }

  move(ev) {
    const drag = this.drag;
    if (!drag || !this.pose) return;
    const { x, y } = this.at(ev);
    // One shift for every moved joint, clamped so that none leaves the photo (the skeleton keeps its shape).
    const moved = drag.joint >= 0 ? [drag.start[drag.joint]] : drag.start.filter((p) => p);
    if (!moved.length) return;
    const xs = moved.map((p) => p[0]), ys = moved.map((p) => p[1]);
    const dx = Math.max(-Math.min(...xs), Math.min(this.photo.w - Math.max(...xs), x - drag.x));
    const dy = Math.max(-Math.min(...ys), Math.min(this.photo.h - Math.max(...ys), y - drag.y));
    drag.start.forEach((p, i) => { if (p && (drag.joint < 0 || i === drag.joint)) this.pose[i] = [p[0] + dx, p[1] + dy]; });
    this.edited();
  }

  hideAt(ev) {
    const { best } = this.at(ev);
    if (best < 0) return;  // off the joints: the browser's own menu
    ev.preventDefault();
    this.hidden[best] = true; this.edited();
    this.tell(`${JOINTS[best]} hidden: it is sent as missing; tick it in the list to show it again.`);
  }

  draw() {
    const c = this.canvas, r = c.getBoundingClientRect(), k = window.devicePixelRatio || 1;
    if (r.width > 0 && (c.width !== Math.round(r.width * k) || c.height !== Math.round(r.height * k))) {
      c.width = Math.round(r.width * k); c.height = Math.round(r.height * k);  // sharp at its shown size
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
    this.drawList();
    if (!this.photo.img) return;
    const { s, ox, oy } = this.view();
    ctx.setTransform(k, 0, 0, k, 0, 0);  // from here on in CSS pixels
    ctx.globalAlpha = this.fade; ctx.drawImage(this.photo.img, ox, oy, this.photo.w * s, this.photo.h * s);
    ctx.globalAlpha = 1.0;
    if (!this.pose) return;
    const kp = this.pose, shown = (i) => kp[i] && !this.hidden[i], pt = (i) => [ox + kp[i][0] * s, oy + kp[i][1] * s];
    ctx.lineWidth = 3; ctx.strokeStyle = "#1f77b4";
    for (const [a, b] of LIMBS) {
      if (shown(a) && shown(b)) { ctx.beginPath(); ctx.moveTo(...pt(a)); ctx.lineTo(...pt(b)); ctx.stroke(); }
    }
    for (let i = 0; i < 18; i++) {
      if (!shown(i)) continue;
      ctx.fillStyle = jointColour(i); ctx.beginPath(); ctx.arc(...pt(i), 5, 0, 2 * Math.PI); ctx.fill();
    }
  }

  drawList() {  // a box per joint: ticked shown, unticked hidden; a "+" button for a missing one, to place it
    if (!this.list) return;
    this.list.innerHTML = "";
    JOINTS.forEach((name, i) => {
      let item;
      if (this.pose && !this.pose[i]) {
        item = document.createElement("button");
        item.type = "button"; item.className = "place" + (this.placing === i ? " armed" : "");
        item.textContent = "+ " + name; item.title = `${name} is missing: click here, then on the photo, to place it`;
        item.onclick = () => this.arm(this.placing === i ? -1 : i);
      } else {
        item = document.createElement("label");
        const check = document.createElement("input");
        check.type = "checkbox"; check.checked = !!this.pose && !this.hidden[i]; check.disabled = !this.pose;
        check.onchange = () => { this.hidden[i] = !check.checked; this.edited(); };
        check.dataset.joint = i;
        item.append(check, " " + name);
      }
      item.dataset.joint = i; item.style.borderLeftColor = jointColour(i);
      this.list.append(item);
    });
  }
}

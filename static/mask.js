// The mask brush on the create page: once a photo is chosen, a canvas over a larger copy of
// it takes strokes from a mouse, a pen or a finger (pointer events; touch-action: none keeps
// the page from scrolling under a finger). Brush size, erase, invert, undo, clear. What is
// painted is where the style goes; create.js sends it as the `mask` file of POST /api/jobs,
// a greyscale PNG (white: painted), and nothing when nothing is painted.
(() => {
  const tools = document.getElementById("mask-tools");
  if (!tools) return;
  const $ = (id) => document.getElementById(id);
  const photo = $("mask-photo");
  const canvas = $("mask-canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const preview = $("content-preview");
  const MAX_SIDE = 1024;           // the server scales the mask to the photo anyway
  const COLOUR = "rgb(255, 40, 150)";
  const UNDO_STEPS = 20;
  const undo = [];
  let erasing = false;
  let painted = false;
  let active = null;               // the pointer drawing now (one at a time)
  let last = null;

  // ------------------------------------------------------------------ follow the photo
  function follow() {
    const img = preview.querySelector("img");
    if (!img || !img.src) { tools.hidden = true; return; }
    if (photo.dataset.source === img.src) { tools.hidden = false; return; }
    photo.dataset.source = img.src;
    photo.addEventListener("load", () => {
      const scale = Math.min(1, MAX_SIDE / Math.max(photo.naturalWidth, photo.naturalHeight));
      canvas.width = Math.max(1, Math.round(photo.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(photo.naturalHeight * scale));
      undo.length = 0;
      changed();
      tools.hidden = false;
    }, { once: true });
    photo.src = img.src;
  }
  new MutationObserver(follow).observe(preview, { childList: true, subtree: true });
  follow();

  // ------------------------------------------------------------------ strokes
  function at(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }
  function brushWidth() {
    return Math.max(canvas.width, canvas.height) * Number($("mask-size").value) / 100;
  }
  function paint(from, to) {
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = COLOUR;
    ctx.lineWidth = brushWidth();
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (from[0] === to[0] && from[1] === to[1]) {
      ctx.arc(to[0], to[1], ctx.lineWidth / 2, 0, 2 * Math.PI);   // a dab
      ctx.fill();
    } else {
      ctx.moveTo(from[0], from[1]);
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = "source-over";
  }
  canvas.addEventListener("pointerdown", (e) => {
    if (active !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    active = e.pointerId;
    canvas.setPointerCapture(e.pointerId);
    remember();
    last = at(e);
    paint(last, last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (e.pointerId !== active) return;
    e.preventDefault();
    const point = at(e);
    paint(last, point);
    last = point;
  });
  function end(e) {
    if (e.pointerId !== active) return;
    active = null;
    last = null;
    changed();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  // ------------------------------------------------------------------ the buttons
  function remember() {
    undo.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (undo.length > UNDO_STEPS) undo.shift();
  }
  function changed() {
    const alpha = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    painted = false;
    for (let i = 3; i < alpha.length; i += 4) { if (alpha[i]) { painted = true; break; } }
    tools.dataset.painted = painted ? "yes" : "no";
    $("mask-undo").disabled = !undo.length;
    $("mask-state").textContent = painted
      ? "The style goes where you painted; the rest stays your photo (or takes your second style)."
      : "Nothing painted: the whole photo is styled.";
  }
  $("mask-erase").addEventListener("click", () => {
    erasing = !erasing;
    $("mask-erase").setAttribute("aria-pressed", String(erasing));
  });
  $("mask-clear").addEventListener("click", () => {
    remember();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    changed();
  });
  $("mask-invert").addEventListener("click", () => {
    remember();
    const old = document.createElement("canvas");
    old.width = canvas.width;
    old.height = canvas.height;
    old.getContext("2d").drawImage(canvas, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = COLOUR;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(old, 0, 0);
    ctx.globalCompositeOperation = "source-over";
    changed();
  });
  $("mask-undo").addEventListener("click", () => {
    const previous = undo.pop();
    if (previous) ctx.putImageData(previous, 0, 0);
    changed();
  });

  // ------------------------------------------------------------------ what is sent
  // White where painted (as much as the stroke covers), black elsewhere, as a PNG.
  function blob() {
    if (tools.hidden || !painted) return Promise.resolve(null);
    const white = document.createElement("canvas");
    white.width = canvas.width;
    white.height = canvas.height;
    const w = white.getContext("2d");
    w.drawImage(canvas, 0, 0);
    w.globalCompositeOperation = "source-in";
    w.fillStyle = "#fff";
    w.fillRect(0, 0, white.width, white.height);
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const o = out.getContext("2d");
    o.fillStyle = "#000";
    o.fillRect(0, 0, out.width, out.height);
    o.drawImage(white, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
  window.dreamgenMask = { blob, painted: () => painted };
})();

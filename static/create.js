// Create page: the mode switch, files checked by their first bytes (not their names), style
// cards added one by one with their own weight sliders, library picks, trim for clips, the
// quality choice's values as hints, and a fetch submit that keeps the page (and moves the
// focus to the message) when something is refused. Without JS the form posts as it is.
(() => {
  const form = document.getElementById("create-form");
  const MAX_STYLES = Number(form.dataset.maxStyles) || 8;
  const $ = (id) => document.getElementById(id);
  const errorBox = $("client-error");
  const styleInput = $("style");
  const cards = $("style-preview");
  const uploads = [];               // {file, card}: the style files, in the order added
  let contentProblem = null;
  form.classList.add("js");

  // ------------------------------------------------------------------ what a file really is
  const QUICKTIME = ["moov", "mdat", "wide", "free", "skip", "pnot"];   // as app/video/probe.py
  const HEIF = ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1", "avif"];
  async function sniff(file) {
    const b = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    const text = (i, n) => String.fromCharCode(...b.slice(i, i + n));
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image";
    if (b[0] === 0x89 && text(1, 3) === "PNG") return "image";
    if (text(0, 4) === "RIFF" && text(8, 4) === "WEBP") return "image";
    if (text(0, 4) === "GIF8") return "image";
    if (text(4, 4) === "ftyp") return HEIF.includes(text(8, 4)) ? "heif" : "video";
    if (QUICKTIME.includes(text(4, 4))) return "video";        // old MOV files, no ftyp box
    if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return "video";
    if (text(0, 4) === "RIFF" && text(8, 4) === "AVI ") return "video";
    if (text(0, 4) === "PK\x03\x04" || text(0, 4) === "PK\x05\x06") return "zip";
    return b.length && b.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))
      ? "text" : null;
  }
  function refusal(file, kind, allowVideo) {
    const what = allowVideo ? "an image or a clip" : "an image";
    if (kind === "text") return `“${file.name}” is not ${what}: it starts with text, whatever its name says.`;
    if (kind === null) return `“${file.name}” is not ${what} we can read (JPEG, PNG, WebP, GIF or HEIC${allowVideo ? "; MP4, MOV, WebM, MKV or AVI" : ""}).`;
    if (kind === "video" && !allowVideo) return `“${file.name}” is a clip; a style must be a picture.`;
    return null;
  }
  function warn(box, message) {
    box.textContent = message || "";
    box.hidden = !message;
    if (message) box.focus();
  }
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    errorBox.focus();
  }
  function previewOf(file, kind) {
    if (kind === "heif") {
      const note = document.createElement("span");
      note.className = "note";
      note.textContent = `${file.name} (HEIC: no preview in this browser)`;
      return note;
    }
    const el = document.createElement(kind === "video" ? "video" : "img");
    el.src = URL.createObjectURL(file);
    if (kind === "video") Object.assign(el, { muted: true, autoplay: true, loop: true, playsInline: true });
    else el.alt = `Preview of ${file.name}`;
    return el;
  }

  // ------------------------------------------------------------------ content, trim
  const contentInput = $("content");
  const contentBox = $("content-preview");
  const trim = $("trim");
  let contentIsClip = false;
  function showTrim(video) {
    trim.hidden = !video;
    contentIsClip = Boolean(video);
    if (!video) { $("clip-quality").hidden = true; return; }
    fitQualityToClip();
    $("clip-length").textContent = "Reading the clip's length…";
    video.addEventListener("loadedmetadata", () => {
      const length = video.duration;
      if (!Number.isFinite(length)) return;
      $("clip-length").textContent = `The clip is ${length.toFixed(1)} s long. Leave blank to make all of it.`;
      for (const id of ["trim_start", "trim_end"]) $(id).max = length.toFixed(1);
      $("trim_end").placeholder = length.toFixed(1);
    }, { once: true });
    video.addEventListener("error", () => {
      $("clip-length").textContent = "This browser cannot play the clip, so its length is not shown; the server checks the times.";
    }, { once: true });
  }
  function dropReusedContent() {
    $("content-reused")?.remove();
  }
  // Several photos, or one ZIP of them, are a batch (POST /api/batches, then its page):
  // each photo is checked on the server, which reports the ones it cannot use.
  let batch = null;                 // {files, zip}: what goes to /api/batches
  function showBatch(files, zip) {
    batch = { files, zip };
    showTrim(null);
    const note = document.createElement("p");
    note.className = "note";
    note.id = "batch-note";
    note.textContent = zip
      ? `“${files[0].name}”: every photo in this ZIP is made as one batch, with the same styles and settings.`
      : `${files.length} photos: each is made with the same styles and settings, as one batch.`;
    contentBox.append(note);
    for (const file of (zip ? [] : files.slice(0, 12))) {
      const img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = `Preview of ${file.name}`;
      img.className = "batch-preview";
      contentBox.append(img);
    }
  }
  async function takeContents(files) {
    batch = null;
    if (files.length <= 1) {
      const kind = files.length ? await sniff(files[0]) : null;
      if (kind !== "zip") { takeContent(files[0]); return; }
    }
    warn($("content-warning"), "");
    contentProblem = null;
    fitToPhoto(0);
    contentBox.replaceChildren();
    dropReusedContent();
    showBatch([...files], files.length === 1);
  }
  async function takeContent(file) {
    warn($("content-warning"), "");
    contentProblem = null;
    fitToPhoto(0);
    if (!file) return;
    const kind = await sniff(file);
    contentProblem = refusal(file, kind, true);
    contentBox.replaceChildren();
    if (contentProblem) { showTrim(null); warn($("content-warning"), contentProblem); return; }
    const el = previewOf(file, kind);
    measurePhoto(el);
    contentBox.append(el);
    showTrim(kind === "video" ? el : null);
  }
  contentInput.addEventListener("change", () => takeContents(contentInput.files));
  $("content-reused-remove")?.addEventListener("click", () => { dropReusedContent(); showTrim(null); fitToPhoto(0); contentInput.focus(); });
  const reusedClip = document.querySelector("#content-reused video");
  showTrim(reusedClip);

  // ------------------------------------------------------------------ the photo's own size
  // Pictures are never enlarged: a quality's size above the photo's says so, its measured
  // time (this server's, see app/web/speed.py) is scaled to the pixels it will really make,
  // and qualities that then make the same size say what still differs between them.
  let photoSide = 0;
  function measurePhoto(el) {
    if (el.tagName === "IMG") {
      const read = () => fitToPhoto(Math.max(el.naturalWidth, el.naturalHeight));
      if (el.complete && el.naturalWidth) read(); else el.addEventListener("load", read, { once: true });
    } else if (el.tagName === "VIDEO") {
      el.addEventListener("loadedmetadata", () => fitToPhoto(Math.max(el.videoWidth, el.videoHeight)), { once: true });
    }
  }
  function duration(s) {            // as app/web/speed.py and static/job.js write them
    if (s < 1) return "under 1 s";
    s = Math.round(s);
    if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
    if (s >= 600) return `${Math.round(s / 60)} min`;
    if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${s} s`;
  }
  function fitToPhoto(side) {
    photoSide = side;
    for (const el of form.querySelectorAll(".preset-size")) {
      const size = Number(el.dataset.side);
      el.textContent = side && side < size ? `${side} px (your photo's own size: ${size} px would enlarge it)` : `${size} px`;
    }
    for (const el of form.querySelectorAll(".preset-eta")) {
      el.dataset.text = el.dataset.text || el.textContent;
      if (!el.dataset.seconds) continue;             // "no run on this server yet" stays
      const size = Number(el.dataset.side);
      const shown = side && side < size ? side : size;
      const seconds = Number(el.dataset.seconds) * (shown / size) ** 2;
      const runs = Number(el.dataset.runs);
      el.textContent = shown === size ? el.dataset.text
        : `${seconds < 1 ? "" : "about "}${duration(seconds)} at ${shown} px (from ${runs} run${runs === 1 ? "" : "s"} here)`;
    }
    photoNote();
  }
  function photoNote() {
    const note = $("preset-photo-note");
    const dream = mode() === "dream";
    const capped = [...form.querySelectorAll('input[name="preset"][data-size]')]
      .filter((p) => photoSide && photoSide < Number(dream ? p.dataset.dreamSize : p.dataset.size));
    note.hidden = capped.length < 2;
    if (note.hidden) return;
    const names = capped.map((p) => p.closest("label").querySelector("strong").textContent);
    const list = names.length === 2 ? names.join(" and ") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
    const work = capped.map((p, i) => `${names[i]}: ${workOf(p, dream)}`).join("; ");
    note.textContent = `Your photo is ${photoSide} px on its longer side and is never enlarged, so ${list} `
      + `${names.length === 2 ? "both" : "all"} make it ${photoSide} px. They differ only in the work done on it (${work}).`;
  }
  function workOf(preset, dream) {
    const d = preset.dataset;
    if (dream) return `${d.octaves} octaves of ${d.dreamIterations} steps`;
    const option = engine.querySelector(`option[value="${d.engine}"]`);
    const label = option?.textContent.trim() || "Automatic";
    if (option?.dataset.iterative !== "true") return `${label}, one pass`;
    const passes = Number(d.enhance) ? `, ${d.enhance} enhance pass${d.enhance > 1 ? "es" : ""}` : "";
    return `${label}, ${d.iterations} steps${passes}`;
  }

  // ------------------------------------------------------------------ style cards
  function syncStyleFiles() {
    const transfer = new DataTransfer();
    for (const u of uploads) transfer.items.add(u.file);
    styleInput.files = transfer.files;
  }
  function dropReusedStyles() {
    for (const el of cards.querySelectorAll('[data-source="reused"]')) el.remove();
    $("style_from")?.remove();
    $("style-from-note")?.remove();
  }
  function renumber() {
    [...cards.children].forEach((card, i) => {
      card.querySelector("img").alt = `Style ${i + 1}`;
      card.querySelector(".style-weight").setAttribute("aria-label", `Weight of style ${i + 1}`);
      card.querySelector(".remove-style").setAttribute("aria-label", `Remove style ${i + 1}`);
    });
  }
  function newCard(image, source) {
    const card = document.createElement("li");
    card.className = "style-card";
    card.dataset.source = source;
    const label = document.createElement("label");
    label.className = "weight";
    const out = document.createElement("output");
    out.textContent = "1";
    const slider = Object.assign(document.createElement("input"),
      { type: "range", className: "style-weight", min: "0", max: "5", step: "0.5", value: "1" });
    label.append("Weight ", out, slider);
    const remove = Object.assign(document.createElement("button"),
      { type: "button", className: "button small remove-style", textContent: "Remove" });
    card.append(image, label, remove);
    return card;
  }
  async function addStyleFiles(files) {
    warn($("style-warning"), "");
    for (const file of files) {
      const kind = await sniff(file);
      const problem = refusal(file, kind, false);
      if (problem) { warn($("style-warning"), problem); continue; }
      dropReusedStyles();
      const card = newCard(previewOf(file, kind), "upload");
      const firstPick = cards.querySelector('[data-source="library"]');
      cards.insertBefore(card, firstPick);      // uploads come before picks, as the server orders them
      uploads.push({ file, card });
    }
    syncStyleFiles();
    renumber();
  }
  styleInput.addEventListener("change", () => {
    const chosen = [...styleInput.files].filter((f) => !uploads.some((u) => u.file === f));
    syncStyleFiles();                           // the input keeps every card's file, not just the last pick
    addStyleFiles(chosen);
  });
  cards.addEventListener("input", (e) => {
    if (e.target.classList.contains("style-weight")) e.target.previousElementSibling.value = e.target.value;
  });
  cards.addEventListener("click", (e) => {
    const button = e.target.closest(".remove-style");
    if (!button) return;
    const card = button.closest(".style-card");
    if (card.dataset.source === "reused") {
      // an earlier result's styles are reused together (style_from): remove them all
      const next = [...cards.children].find((c) => c.dataset.source !== "reused");
      dropReusedStyles();
      renumber();
      warn($("style-warning"), "The earlier result's styles go together, so all of them were removed; add or pick the ones you want.");
      (next?.querySelector(".remove-style") || styleInput).focus();
      return;
    }
    const index = uploads.findIndex((u) => u.card === card);
    if (index >= 0) uploads.splice(index, 1);
    const next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    syncStyleFiles();
    renumber();
    (next?.querySelector(".remove-style") || styleInput).focus();
  });
  $("library-picker")?.addEventListener("click", (e) => {
    const pick = e.target.closest(".pick");
    if (!pick) return;
    e.preventDefault();
    const chosen = cards.querySelector(`[data-style-id="${pick.dataset.styleId}"]`);
    if (chosen) { chosen.querySelector(".style-weight").focus(); return; }
    dropReusedStyles();
    const image = Object.assign(document.createElement("img"), { src: pick.dataset.image, alt: "" });
    const card = newCard(image, "library");
    card.dataset.styleId = pick.dataset.styleId;
    card.append(Object.assign(document.createElement("input"),
      { type: "hidden", name: "style_id", value: pick.dataset.styleId }));
    cards.append(card);
    renumber();
    card.querySelector(".style-weight").focus();
  });
  function fillWeights() {
    const weights = [...cards.querySelectorAll(".style-weight")].map((s) => Number(s.value));
    const field = $("style_weights");
    field.value = weights.length > 1 && weights.some((w) => w !== weights[0]) ? weights.join(",") : "";
  }
  $("style-weights-field").hidden = true;       // the sliders say which weight goes with which image

  // ------------------------------------------------------------------ guide (Deep Dream)
  const guideInput = $("guide");
  guideInput.addEventListener("change", async () => {
    const file = guideInput.files[0];
    warn($("guide-warning"), "");
    $("guide-preview").replaceChildren();
    if (!file) return;
    const kind = await sniff(file);
    const problem = refusal(file, kind, false);
    if (problem) { guideInput.value = ""; warn($("guide-warning"), problem); return; }
    $("guide-preview").append(previewOf(file, kind));
  });
  $("guide-reused-remove")?.addEventListener("click", () => { $("guide-reused").remove(); guideInput.focus(); });

  // ------------------------------------------------------------------ drag and drop
  for (const drop of document.querySelectorAll(".drop")) {
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragging"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("dragging");
      const files = e.dataTransfer.files;
      if (!files.length) return;
      if (drop.dataset.kind === "style") { addStyleFiles([...files]); return; }
      const input = drop.dataset.kind === "guide" ? guideInput : contentInput;
      input.files = files;
      input.dispatchEvent(new Event("change"));
    });
  }

  // ------------------------------------------------------------------ mode and quality
  const engine = $("engine");
  function mode() { return form.querySelector('input[name="mode"]:checked').value; }
  function preset() {
    const checked = form.querySelector('input[name="preset"]:checked');
    return checked && checked.value ? checked.dataset : null;    // null: my own settings
  }
  function syncMode() {
    form.dataset.mode = mode();
    // the hidden box's fields are not sent: its files never become a style or a guide
    for (const el of form.querySelectorAll(".style-only, .dream-only")) {
      const off = el.classList.contains(mode() === "dream" ? "style-only" : "dream-only");
      for (const field of el.querySelectorAll("input, select")) field.disabled = off;
      if (el.matches("input, select")) el.disabled = off;
    }
    syncQuality();
  }
  const words = { size: (n) => `${n} px`, enhance: (n) => (Number(n) ? `${n} pass${n > 1 ? "es" : ""}` : "off") };
  function syncQuality() {
    const p = preset();
    const dream = mode() === "dream";
    const pick = (key, fallback) => (p && p[key] !== undefined ? p[key] : fallback);
    const engineName = engine.value || pick("engine", "auto");
    const option = engine.querySelector(`option[value="${engineName}"]`);
    const iterative = option?.dataset.iterative === "true";
    const from = p ? "Quality's pick" : "Default";
    engine.options[0].textContent = `${from}: ${engine.querySelector(`option[value="${pick("engine", "auto")}"]`)?.textContent || "Automatic"}`;
    $("size").options[0].textContent = `${from}: ${words.size(dream ? pick("dreamSize", 512) : pick("size", 512))}`;
    $("enhance").options[0].textContent = `${from}: ${words.enhance(pick("enhance", 0))}`;
    $("iterations").placeholder = pick("iterations", 300);
    $("octaves").placeholder = pick("octaves", 4);
    $("dream_iterations").placeholder = pick("dreamIterations", 10);
    $("engine-hint").textContent = (engine.value ? engine.selectedOptions[0] : option)?.dataset.hint || "";
    for (const el of form.querySelectorAll(".painterly")) el.hidden = !iterative;
    photoNote();
  }
  form.addEventListener("change", (e) => {
    if (["mode", "preset", "engine"].includes(e.target.name)) e.target.name === "mode" ? syncMode() : syncQuality();
  });
  const shown = { alpha: (x) => x.toFixed(2), style_scale: (x) => `${x.toFixed(2)}×`, strength: (x) => String(x) };
  for (const [id, format] of Object.entries(shown)) {
    $(id).addEventListener("input", () => { $(`${id}-out`).value = format(Number($(id).value)); });
  }
  // Every quality choice takes clips (Balanced and Best paint them frame by frame). Should
  // a choice's engine take pictures only, a clip chosen under it moves to Fast (saying so)
  // instead of being refused after its whole upload.
  function clipEngineProblem() {
    if (!contentIsClip || mode() !== "style") return null;
    const name = engine.value || preset()?.engine || "auto";
    const option = engine.querySelector(`option[value="${name}"]`);
    if (option?.dataset.video !== "false") return null;
    return `${option.textContent} paints pictures only, not clips: choose Fast quality, or an engine for clips under More settings.`;
  }
  function fitQualityToClip() {
    if (!clipEngineProblem() || engine.value || !$("preset-fast")) return;
    const from = form.querySelector('input[name="preset"]:checked')?.closest("label")?.querySelector("strong")?.textContent || "that quality";
    $("preset-fast").checked = true;
    syncQuality();
    $("clip-quality").textContent = `Quality set to Fast for this clip: ${from} paints pictures only.`;
    $("clip-quality").hidden = false;
  }
  syncMode();
  const reused = document.querySelector("#content-reused img, #content-reused video");
  if (reused) measurePhoto(reused);             // "edit and retry": the earlier photo's size

  // ------------------------------------------------------------------ submit
  function problems(training) {
    if (contentProblem) return contentProblem;
    if (training) {          // the photo is optional; the styles are what it learns
      if (!cards.children.length && !$("style_from")) return "Add at least one style image to train on, or pick one from the library.";
      return null;
    }
    if (!contentInput.files.length && !$("content-reused")) return "Choose your photo or clip first.";
    if (mode() === "style" && !cards.children.length && !$("model-card")) return "Add at least one style image, or pick one from the library.";
    if (mode() === "style" && cards.children.length > MAX_STYLES) return `Use at most ${MAX_STYLES} style images; remove ${cards.children.length - MAX_STYLES}.`;
    const clipProblem = clipEngineProblem();
    if (clipProblem) return clipProblem;
    return null;
  }
  // A refusal shown for the last try goes as soon as the person changes anything that may
  // have caused it: another file, another setting (it comes back on the next Generate if
  // the cause is still there).
  function clearStaleErrors() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    $("form-error")?.remove();
  }
  for (const type of ["change", "input"]) form.addEventListener(type, clearStaleErrors);
  cards.addEventListener("click", (e) => { if (e.target.closest(".remove-style")) clearStaleErrors(); });
  $("library-picker")?.addEventListener("click", (e) => { if (e.target.closest(".pick")) clearStaleErrors(); });
  // A batch goes to /api/batches, then to its page, which lists the photos the server
  // could not use; a refusal of the whole batch stays here, as a job's does.
  async function sendBatch() {
    const button = $("generate");
    button.disabled = true;
    button.textContent = "Uploading…";
    const data = new FormData(form);
    if (batch.zip) { data.delete("content"); data.append("zip", batch.files[0]); }
    try {
      const response = await fetch("/api/batches", { method: "POST", body: data });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) { window.location.assign(body.links.page); return; }
      showError(typeof body.detail === "string" ? body.detail : `error ${response.status}`);
    } catch (err) {
      showError("The upload failed: " + err.message);
    }
    button.disabled = false;
    button.textContent = "Generate";
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errorBox.hidden = true;
    const training = e.submitter?.id === "train";   // "Train a fast model"
    const problem = problems(training);
    if (problem) { showError(problem); return; }
    fillWeights();
    if (batch && !training) { await sendBatch(); return; }
    const button = training ? $("train") : $("generate");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = "Uploading…";
    try {
      const data = new FormData(form);
      const mask = training ? null : await window.dreamgenMask?.blob();   // static/mask.js: null when blank
      if (mask) data.append("mask", mask, "mask.png");
      const response = await fetch(training ? "/api/train" : "/api/jobs", { method: "POST", body: data });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) { window.location.assign(body.links.page); return; }
      const detail = typeof body.detail === "string" ? body.detail
        : (body.detail || []).map((d) => d.msg).join("; ") || `error ${response.status}`;
      showError(detail);
    } catch (err) {
      showError("The upload failed: " + err.message);
    }
    button.disabled = false;
    button.textContent = label;
  });
  $("form-error")?.focus();
})();

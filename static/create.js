// Create page: file previews, drag and drop, Gatys-only fields, and a fetch submit that
// keeps the page when the server refuses something. Without JS the form posts normally.
(() => {
  const form = document.getElementById("create-form");
  const errorBox = document.getElementById("client-error");
  const engine = document.getElementById("engine");
  const iterationsField = document.getElementById("iterations-field");
  const alpha = document.getElementById("alpha");
  const alphaOut = document.getElementById("alpha-out");

  function showPreviews(input, box) {
    if (!input.files.length) return;
    box.replaceChildren();
    for (const file of input.files) {
      const url = URL.createObjectURL(file);
      const isVideo = file.type.startsWith("video/");
      const el = document.createElement(isVideo ? "video" : "img");
      el.src = url;
      if (isVideo) { el.muted = true; el.autoplay = true; el.loop = true; el.playsInline = true; }
      else { el.alt = `Preview of ${file.name}`; }
      box.append(el);
    }
  }

  for (const [inputId, boxId] of [["content", "content-preview"], ["style", "style-preview"]]) {
    const input = document.getElementById(inputId);
    const box = document.getElementById(boxId);
    const drop = input.closest(".drop");
    input.addEventListener("change", () => showPreviews(input, box));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragging"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("dragging");
      if (!e.dataTransfer.files.length) return;
      input.files = e.dataTransfer.files;
      showPreviews(input, box);
    });
  }

  const engineHint = document.getElementById("engine-hint");
  function syncEngine() {
    const option = engine.selectedOptions[0];
    iterationsField.hidden = option.dataset.iterative !== "true";
    engineHint.textContent = option.dataset.hint || "";
  }
  engine.addEventListener("change", syncEngine);
  syncEngine();
  alpha.addEventListener("input", () => { alphaOut.value = Number(alpha.value).toFixed(2); });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = document.getElementById("generate");
    errorBox.hidden = true;
    button.disabled = true;
    button.textContent = "Uploading…";
    try {
      const response = await fetch("/api/jobs", { method: "POST", body: new FormData(form) });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) { window.location.assign(body.links.page); return; }
      const detail = typeof body.detail === "string" ? body.detail
        : (body.detail || []).map((d) => d.msg).join("; ") || `error ${response.status}`;
      errorBox.textContent = detail;
      errorBox.hidden = false;
      errorBox.focus?.();
    } catch (err) {
      errorBox.textContent = "The upload failed: " + err.message;
      errorBox.hidden = false;
    }
    button.disabled = false;
    button.textContent = "Generate";
  });
})();

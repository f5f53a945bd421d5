// Instant strength preview: dragging the slider asks the server for the picture at that
// strength (decoder only, in a child process) and shows it in place of the result. One
// request at a time; the latest value wins. "Save this version" posts the form as it is.
(() => {
  const form = document.getElementById("strength-form");
  if (!form) return;
  const range = document.getElementById("strength");
  const out = document.getElementById("strength-out");
  const status = document.getElementById("strength-status");
  const after = document.getElementById("after");
  const original = Number(form.dataset.alpha);
  let wanted = null, busy = false, shownUrl = null, pause = 50;

  function showImage(url) {
    if (shownUrl) URL.revokeObjectURL(shownUrl);
    shownUrl = url && url.startsWith("blob:") ? url : null;
    after.src = url || form.dataset.result;
  }

  async function render() {
    if (busy || wanted === null) return;
    const alpha = wanted;
    wanted = null;
    busy = true;
    const started = performance.now();
    try {
      if (Math.abs(alpha - original) < 1e-6) {
        showImage(null);
        status.textContent = "The saved result, at its own strength.";
        form.dataset.previewed = alpha.toFixed(2);
      } else {
        const response = await fetch(`${form.dataset.preview}?alpha=${alpha.toFixed(2)}`);
        pause = response.status === 429 ? 400 : 50;    // the server is busy: ask again soon
        if (response.status === 429) { wanted = wanted ?? alpha; }
        else if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          status.textContent = typeof body.detail === "string"
            ? `The preview did not work: ${body.detail}` : "The preview did not work; try again.";
        }
        else {
          showImage(URL.createObjectURL(await response.blob()));
          const ms = Math.round(performance.now() - started);
          status.textContent = `Preview at strength ${alpha.toFixed(2)} (${ms} ms).`;
          form.dataset.previewed = alpha.toFixed(2);
        }
      }
    } catch (err) {
      status.textContent = "The preview did not work: " + err.message;
    }
    busy = false;
    if (wanted !== null) setTimeout(render, pause);
  }

  form.addEventListener("submit", () => {     // the full-size render takes a few seconds
    const save = document.getElementById("save-version");
    save.disabled = true;
    save.textContent = "Saving…";
  });

  range.addEventListener("input", () => {
    out.value = Number(range.value).toFixed(2);
    wanted = Number(range.value);
    render();
  });
})();

// Admin page: the download buttons start downloads in the background, then the page polls
// /api/admin/weights and moves each file's progress bar until every download has ended.
// Without JavaScript the forms post normally and a reload shows the progress.
(() => {
  const root = document.getElementById("admin-engines");
  if (!root) return;
  const liveError = document.getElementById("admin-live-error");
  const POLL_MS = 400;
  let polling = false;

  // The same units as Jinja's filesizeformat (what the page was first rendered with).
  function fileSize(bytes) {
    if (bytes === 1) return "1 Byte";
    if (bytes < 1000) return `${bytes} Bytes`;
    const units = ["kB", "MB", "GB", "TB"];
    let i = 0;
    while (i < units.length - 1 && bytes >= 1000 ** (i + 2)) i += 1;
    return `${(bytes / 1000 ** (i + 1)).toFixed(1)} ${units[i]}`;
  }

  function detailOf(body, status) {
    if (typeof body.detail === "string") return body.detail;
    return (body.detail || []).map((d) => d.msg).join("; ") || `error ${status}`;
  }

  function showError(text) {
    liveError.textContent = text;
    liveError.hidden = !text;
  }

  function downloadText(d) {
    if (d.message) return d.message;
    if (d.state === "queued") return "waiting";
    return d.total ? `${fileSize(d.received)} of ${fileSize(d.total)}` : fileSize(d.received);
  }

  function showWhere(cell, file) {
    cell.replaceChildren();
    if (!file.path) { cell.textContent = "—"; return; }
    const path = document.createElement("small");
    path.textContent = file.path;
    cell.append(file.source || "", document.createElement("br"), path);
  }

  function showFile(row, file) {
    const d = file.download;
    row.dataset.state = file.state;
    row.dataset.download = d ? d.state : "";
    row.querySelector('[data-role="state"]').textContent = file.state;
    showWhere(row.querySelector('[data-role="where"]'), file);
    row.querySelector('[data-role="size"]').textContent =
      file.size === null ? "unknown" : fileSize(file.size);
    const bar = row.querySelector('[data-role="bar"]');
    bar.hidden = !d || d.state === "failed";
    if (d && d.total) { bar.max = d.total; bar.value = d.received; }
    else bar.removeAttribute("value");             // indeterminate: size not known yet
    row.querySelector('[data-role="message"]').textContent = d ? downloadText(d) : "";
  }

  function showEngine(section, engine, offline) {
    const active = engine.files.some(
      (f) => f.download && ["queued", "running"].includes(f.download.state));
    section.dataset.ready = String(engine.ready);
    section.querySelector('[data-role="ready"]').textContent = engine.ready ? "Ready" : "Not ready";
    const form = section.querySelector(".admin-download");
    form.hidden = engine.complete;
    const button = form.querySelector("button");
    button.disabled = active || offline;
    button.textContent = engine.ready ? "Download optional files" : "Download missing files";
    for (const file of engine.files) {
      const row = section.querySelector(`tr[data-file="${CSS.escape(file.name)}"]`);
      if (row) showFile(row, file);
    }
  }

  function show(overview) {
    root.dataset.downloading = String(overview.downloading);
    for (const engine of overview.engines) {
      const section = root.querySelector(`[data-engine="${CSS.escape(engine.name)}"]`);
      if (section) showEngine(section, engine, overview.offline);
    }
  }

  // The overview, or null when the server refused (the reason is shown); throws on a
  // network error.
  async function refresh() {
    const response = await fetch("/api/admin/weights", { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) { showError(detailOf(body, response.status)); return null; }
    show(body);
    return body;
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      for (;;) {
        let overview;
        try { overview = await refresh(); } catch (err) { overview = undefined; }  // blip: retry
        if (overview === null || (overview && !overview.downloading)) break;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      polling = false;
    }
  }

  async function startDownload(form) {
    const button = form.querySelector("button");
    button.disabled = true;
    showError("");
    try {
      const response = await fetch("/api/admin/downloads", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ engine: form.elements.engine.value }),
      });
      if (response.status !== 202) {
        showError(detailOf(await response.json().catch(() => ({})), response.status));
      }
    } catch (err) {
      showError("The request failed: " + err.message);
    }
    await poll();
  }

  for (const form of root.querySelectorAll(".admin-download")) {
    form.addEventListener("submit", (e) => { e.preventDefault(); startDownload(form); });
  }
  if (root.dataset.downloading === "true") poll();
})();

// Batch page: the progress of each photo and of the whole, live from the batch's server-sent
// events (as the result page's), polling when the stream is not there; the download and
// "retry the failed ones" buttons appear once they have something to do.
(() => {
  const root = document.getElementById("batch");
  if (!root) return;
  const id = root.dataset.batchId;
  const $ = (x) => document.getElementById(x);
  let finished = root.dataset.state === "finished";

  function photoRow(job) {
    let row = $(`photo-${job.id}`);
    if (!row) {
      row = document.createElement("li");
      row.className = "batch-photo";
      row.id = `photo-${job.id}`;
      row.dataset.jobId = job.id;
      row.innerHTML = '<a class="batch-thumb"></a><span class="batch-name"></span><div class="progress small"><span class="bar"></span></div><span class="batch-state"></span>';
      $("batch-photos").append(row);
    }
    return row;
  }
  function showJob(job, name) {
    const row = photoRow(job);
    row.dataset.state = job.state;
    const link = row.querySelector(".batch-thumb");
    link.href = job.links.page;
    const src = job.links.thumb || job.links.content;
    let img = link.querySelector("img");
    if (src && (!img || img.getAttribute("src") !== src)) {
      img = img || link.appendChild(document.createElement("img"));
      img.src = src;
      img.alt = job.links.thumb ? `Result for ${job.title}` : job.title;
      img.classList.toggle("waiting", !job.links.thumb);
    }
    row.querySelector(".batch-name").textContent = name || job.title;
    row.querySelector(".bar").style.width = `${(job.progress * 100).toFixed(1)}%`;
    row.querySelector(".batch-state").textContent = job.state + (job.error ? `: ${job.error}` : "");
  }
  function show(batch) {
    finished = batch.state === "finished";
    root.dataset.state = batch.state;
    const total = batch.jobs.length;
    const c = batch.counts;
    $("batch-title").textContent = finished ? "Your batch is done" : "Painting your batch…";
    $("batch-summary").textContent = `${c.succeeded} of ${total} photo${total !== 1 ? "s" : ""} done`
      + (c.failed ? `, ${c.failed} failed` : "") + (c.cancelled ? `, ${c.cancelled} cancelled` : "") + ".";
    const pct = Math.round(batch.progress * 100);
    $("batch-bar").style.width = `${pct}%`;
    $("batch-progress").setAttribute("aria-valuenow", String(pct));
    $("download").hidden = !c.succeeded;
    $("retry-form").hidden = !batch.retryable;
    const names = Object.fromEntries(batch.photos.filter((p) => p.job).map((p) => [p.job, p.name]));
    for (const job of batch.jobs) showJob(job, names[job.id]);
  }
  async function poll() {
    while (!finished) {
      await new Promise((r) => setTimeout(r, 2000));
      const response = await fetch(`/api/batches/${id}`);
      if (!response.ok) return;
      show(await response.json());
    }
  }
  function listen() {
    if (!("EventSource" in window)) { poll(); return; }
    const events = new EventSource(`/api/batches/${id}/events`);
    const handle = (e) => show(JSON.parse(e.data));
    events.addEventListener("progress", handle);
    events.addEventListener("done", (e) => { events.close(); handle(e); });
    events.addEventListener("gone", () => events.close());
    events.onerror = () => { if (!finished) { events.close(); poll(); } };
  }
  if (!finished) listen();
  $("retry-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("retry").disabled = true;
    const response = await fetch(`/api/batches/${id}/retry`, { method: "POST" });
    $("retry").disabled = false;
    if (!response.ok) return;
    show(await response.json());
    if (!finished) listen();
  });
})();

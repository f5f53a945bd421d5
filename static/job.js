// Job page: live progress from server-sent events, falling back to polling the JSON API.
(() => {
  const root = document.getElementById("job");
  const id = root.dataset.jobId;
  const $ = (x) => document.getElementById(x);
  const titles = { queued: "Waiting in the queue", running: "Painting…", failed: "It didn't work", cancelled: "Cancelled" };
  let finished = false;

  function seconds(s) {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }

  function show(job) {
    root.dataset.state = job.state;
    $("job-title").textContent = titles[job.state] || "Done";
    const pct = Math.round(job.progress * 1000) / 10;
    $("bar").style.width = pct + "%";
    $("progress").setAttribute("aria-valuenow", Math.round(pct));
    $("message").textContent = job.message;
    $("position").hidden = job.queue_position === 0;
    $("position-n").textContent = job.queue_position;
    $("elapsed").textContent = seconds(job.elapsed_s);
    $("eta").textContent = seconds(job.eta_s);
    if (job.links.preview && job.state === "running") {
      $("preview-figure").hidden = false;
      if ($("preview").getAttribute("src") !== job.links.preview) $("preview").src = job.links.preview;
    }
    if (job.error) { $("error").textContent = job.error; $("error").hidden = false; }
    const active = job.state === "queued" || job.state === "running";
    const cancel = $("cancel-form");
    if (cancel && !active) cancel.hidden = true;
    $("again").hidden = active;
    if (job.state === "succeeded" && !finished) {
      finished = true;
      window.location.replace(job.links.page);
    }
    if (!active) finished = true;
  }

  async function poll() {
    while (!finished) {
      try {
        const response = await fetch(`/api/jobs/${id}`);
        if (response.ok) show(await response.json());
      } catch (err) { /* network blip: try again */ }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  if (!["queued", "running"].includes(root.dataset.state)) return;
  if ("EventSource" in window) {
    const events = new EventSource(`/api/jobs/${id}/events`);
    const handle = (e) => show(JSON.parse(e.data));
    events.addEventListener("progress", handle);
    events.addEventListener("done", (e) => { events.close(); handle(e); });
    events.onerror = () => { if (!finished) { events.close(); poll(); } };
  } else {
    poll();
  }

  const cancel = $("cancel-form");
  if (cancel) cancel.addEventListener("submit", async (e) => {
    e.preventDefault();
    $("cancel").disabled = true;
    const response = await fetch(`/api/jobs/${id}/cancel`, { method: "POST" });
    if (response.ok) show(await response.json());
  });
})();

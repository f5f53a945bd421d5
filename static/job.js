// Job page: live progress from server-sent events, falling back to polling the JSON API.
// A queued job shows its place in line and its wait; a running clip its latest frame and a
// player for the part finished so far.
(() => {
  const root = document.getElementById("job");
  const id = root.dataset.jobId;
  const $ = (x) => document.getElementById(x);
  const running = root.dataset.kind === "train" ? "Training…" : root.dataset.mode === "dream" ? "Dreaming…" : "Painting…";
  const titles = { queued: "Waiting in the queue", running,
    failed: "It didn't work", cancelled: "Cancelled" };
  let finished = false;

  // exact under 10 minutes, then to the minute (as templates/job.html writes them)
  function seconds(s, about = true) {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    let text = `${s} s`;
    if (s >= 3600) text = `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
    else if (s >= 600) text = `${Math.round(s / 60)} min`;
    else if (s >= 60) text = `${Math.floor(s / 60)} min ${s % 60} s`;
    return about ? "about " + text : text;
  }

  // "waiting in the queue (resumed after restart)" → "Resumed after restart": the title
  // already says it is waiting (or that it failed, or was cancelled).
  function note(job) {
    if (job.state === "failed" || job.state === "cancelled") return "";
    if (job.state !== "queued") return job.message;
    const rest = job.message.replace(/^waiting in the queue/, "").trim().replace(/^\(|\)$/g, "");
    return rest ? rest.charAt(0).toUpperCase() + rest.slice(1) : "";
  }

  // The partial clip is rewritten at most every 15 s (app/jobs/clip_segments.py); its URL
  // changes with every committed segment. Swap the newer one in when nobody is watching:
  // at once if there is none yet or the old one played to its end, else at most every 15 s
  // while it sits untouched at its start.
  let swappedAt = $("partial").getAttribute("src") ? Date.now() : 0;   // the page brought one
  function showPartial(url) {
    const player = $("partial");
    if (!url || player.getAttribute("src") === url) return;
    const untouched = player.paused && player.currentTime === 0 && Date.now() - swappedAt > 15000;
    if (!player.getAttribute("src") || player.ended || untouched) {
      player.src = url;
      swappedAt = Date.now();
      $("partial-figure").hidden = false;
    }
  }

  function show(job) {
    root.dataset.state = job.state;
    $("job-title").textContent = titles[job.state] || "Done";
    const pct = Math.round(job.progress * 1000) / 10;
    $("bar").style.width = pct + "%";
    $("progress").setAttribute("aria-valuenow", Math.round(pct));
    const text = note(job);
    $("message").textContent = text;
    $("message").hidden = !text;
    $("position").hidden = job.queue_position === 0;
    $("position").textContent = job.queue_position === 1 ? "Next in line" : `Number ${job.queue_position} in line`;
    const queued = job.state === "queued";
    const active = queued || job.state === "running";
    $("wait-row").hidden = !queued;
    $("wait").textContent = seconds(job.wait_s);
    $("elapsed-row").hidden = queued;
    $("elapsed").textContent = seconds(job.elapsed_s, false);
    $("eta-row").hidden = !active || (queued && job.eta_s === null);
    $("eta-label").textContent = queued ? "Done in" : "Remaining";
    $("eta").textContent = seconds(job.eta_s);
    const basis = $("timing-basis");          // estimates come from this server's own runs
    basis.hidden = !active;
    const runs = job.measured_runs;
    if (runs !== null && runs !== undefined) {
      basis.textContent = runs ? `Times from the last ${runs} ${basis.dataset.label} run${runs === 1 ? "" : "s"} on this server.`
        : `No ${basis.dataset.label} run on this server yet, so no time estimate: this one sets the pace.`;
    }
    if (job.links.preview && job.state === "running") {
      $("preview-figure").hidden = false;
      if ($("preview").getAttribute("src") !== job.links.preview) $("preview").src = job.links.preview;
    }
    if (job.state === "running") showPartial(job.links.partial);
    if (job.error) { $("error").textContent = job.error; $("error").hidden = false; }
    const cancel = $("cancel-form");
    if (cancel && !active) cancel.hidden = true;
    if ($("finished-actions")) $("finished-actions").hidden = active;
    if ($("again")) $("again").hidden = active;
    if (job.state === "succeeded" && !finished) {
      finished = true;
      window.location.replace(job.links.page);
    }
    if (!active) finished = true;
  }

  function gone() {        // deleted, or hidden by the admin: the page itself says which
    finished = true;
    window.location.reload();
  }

  async function poll() {
    while (!finished) {
      try {
        const response = await fetch(`/api/jobs/${id}`);
        if (response.ok) show(await response.json());
        else if ([404, 410].includes(response.status)) gone();
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
    events.addEventListener("gone", () => { events.close(); gone(); });
    events.onerror = () => { if (!finished) { events.close(); poll(); } };
  } else {
    poll();
  }

  // Cancel asks first (a two-step button, no confirm() dialog): the first press asks, the
  // second stops the job; "Keep going" takes the question back.
  const cancel = $("cancel-form");
  let armed = false;
  function arm(on) {
    armed = on;
    $("cancel").textContent = on ? "Yes, cancel it" : "Cancel";
    $("cancel-question").hidden = !on;
    $("keep-going").hidden = !on;
  }
  if (cancel) {
    cancel.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!armed) { arm(true); $("cancel").focus(); return; }
      $("cancel").disabled = true;
      $("keep-going").hidden = true;
      const response = await fetch(`/api/jobs/${id}/cancel`, { method: "POST" });
      if (response.ok) show(await response.json());
    });
    $("keep-going").addEventListener("click", () => { arm(false); $("cancel").focus(); });
  }
})();

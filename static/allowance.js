// The create page's "this job costs N work units": asks POST /api/jobs/cost with the form's
// settings (no files) whenever they change. A clip costs its per-frame price for each
// frame; the browser knows a clip's length but not its frame rate, so it estimates the
// frames at 30 a second (the server counts them exactly when the clip is checked).
(function () {
  var form = document.getElementById("create-form");
  var out = document.getElementById("job-cost-units");
  var left = document.getElementById("allowance-left");
  if (!form || !out) return;
  var FPS = 30, timer = null, asked = 0, clipSeconds = null;

  function units(n) {
    return n.toLocaleString("en", { maximumFractionDigits: n < 10 ? 2 : 0 });
  }

  function frames() {
    if (clipSeconds === null) return 1;
    var start = parseFloat(form.elements.trim_start && form.elements.trim_start.value) || 0;
    var end = parseFloat(form.elements.trim_end && form.elements.trim_end.value) || clipSeconds;
    return Math.max(1, Math.ceil((Math.min(end, clipSeconds) - start) * FPS));
  }

  function show(cost) {
    var text = cost.frames > 1
      ? "This clip costs about " + units(cost.units) + " work units (" + units(cost.per_frame) +
        " a frame, about " + cost.frames + " frames)."
      : "This job costs " + units(cost.units) + " work unit" + (cost.units === 1 ? "" : "s") + ".";
    out.textContent = text;
    var a = cost.allowance;
    if (a.daily === null) {
      left.textContent = "No daily limit on this studio.";
    } else {
      var when = new Date(a.refills_at).toISOString().slice(11, 16);
      left.textContent = (cost.enough ? units(a.left) + " of today's " + units(a.daily) +
        " left" : "Not enough left today: " + units(a.left) + " of " + units(a.daily)) +
        "; it refills at " + when + " UTC.";
    }
    out.parentNode.classList.toggle("short", !cost.enough);
  }

  function ask() {
    var data = new FormData(form);
    ["content", "style", "guide"].forEach(function (name) { data.delete(name); });
    var mine = ++asked;
    fetch("/api/jobs/cost?frames=" + frames(), { method: "POST", body: data })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (cost) { if (cost && mine === asked) show(cost); })
      .catch(function () {});
  }

  function soon() { clearTimeout(timer); timer = setTimeout(ask, 250); }

  var content = form.elements.content;
  if (content && content.addEventListener) {
    content.addEventListener("change", function () {
      clipSeconds = null;
      var file = content.files && content.files[0];
      if (!file || file.type.indexOf("video/") !== 0) return soon();
      var probe = document.createElement("video");
      probe.preload = "metadata";
      probe.onloadedmetadata = function () {
        clipSeconds = isFinite(probe.duration) ? probe.duration : null;
        URL.revokeObjectURL(probe.src);
        soon();
      };
      probe.src = URL.createObjectURL(file);
    });
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  ask();
})();

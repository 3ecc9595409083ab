// Polls a background job's status and shows its progress and result.
(function () {
  var box = document.getElementById("ra-job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function render(job) {
    document.getElementById("ra-job-state").textContent = job.state;
    var pct = job.total ? Math.min(100, Math.round(100 * job.progress / job.total)) : (job.status === "done" ? 100 : 0);
    var bar = document.getElementById("ra-job-bar");
    bar.style.width = pct + "%";
    bar.textContent = pct + "%";
    document.getElementById("ra-job-count").textContent = job.progress + (job.total ? " / " + job.total : "");
    var table = document.getElementById("ra-job-result");
    table.innerHTML = "";
    Object.keys(job.result || {}).forEach(function (key) {
      if (key === "report" || key === "file") { return; }
      var row = table.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = job.result[key];
    });
    document.getElementById("ra-job-error").textContent = job.error || "";
    document.getElementById("ra-job-resume").style.display = job.interrupted ? "block" : "none";
    var result = job.result || {};
    if (job.status === "done" && (result.report || result.file)) {
      document.getElementById("ra-job-download").style.display = "inline-block";
    }
    return job.status === "done" || job.status === "failed" || job.interrupted;
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (job) { if (!render(job)) { setTimeout(poll, 700); } })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();

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
      if (key === "report" || key === "file" || key === "failures") { return; }
      var row = table.insertRow();
      row.insertCell().textContent = key;
      row.insertCell().textContent = job.result[key];
    });
    document.getElementById("ra-job-error").textContent = job.error || "";
    document.getElementById("ra-job-resume").style.display = job.interrupted ? "block" : "none";
    var result = job.result || {};
    showFailures(result);
    if (job.status === "done" && (result.report || result.file)) {
      document.getElementById("ra-job-download").style.display = "inline-block";
    }
    return job.status === "done" || job.status === "failed" || job.interrupted;
  }
  // The first failed rows of an import, with their reasons; the report has all of them.
  function showFailures(result) {
    var box = document.getElementById("ra-job-failures");
    var failures = result.failures || [];
    if (!box || !failures.length) { return; }
    var body = box.querySelector("tbody");
    body.innerHTML = "";
    failures.forEach(function (f) {
      var row = body.insertRow();
      f.forEach(function (value) { row.insertCell().textContent = value; });
    });
    var failed = result["失败"] || failures.length;
    document.getElementById("ra-job-failures-title").textContent = failed > failures.length
      ? "失败的行（前 " + failures.length + " 行，共 " + failed + " 行，全部见错误报告）" : "失败的行";
    box.style.display = "block";
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (job) { if (!render(job)) { setTimeout(poll, 700); } })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();

/* lmbench ui: hands the server's Plotly specs to plotly.js and keeps a running run's page current.
   No chart is built here: every spec comes from the server (lmbench.ui.charts). */
(function () {
  "use strict";
  var POLL_MS = 2000;

  function plot(el, spec) {
    Plotly.react(el, spec.data, spec.layout, {responsive: true, displaylogo: false});
  }

  function drawAll(root) {
    root.querySelectorAll("div.chart[data-spec]").forEach(function (el) {
      var node = document.getElementById(el.dataset.spec);
      if (node) { plot(el, JSON.parse(node.textContent)); }
    });
  }

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el && value !== null && value !== undefined) { el.textContent = String(value); }
  }

  function updateCharts(charts) {
    var box = document.getElementById("curves-charts");
    if (!box) { return; }
    charts.forEach(function (c) {
      var el = null;
      box.querySelectorAll("div.chart").forEach(function (d) { if (d.dataset.key === c.key) { el = d; } });
      if (!el) {
        el = document.createElement("div");
        el.className = "chart";
        el.dataset.key = c.key;
        box.appendChild(el);
        var none = document.getElementById("no-curves");
        if (none) { none.remove(); }
      }
      plot(el, c.figure);
    });
  }

  function follow() {
    var live = document.getElementById("live");
    if (!live || live.dataset.status !== "running") { return; }
    function poll() {
      fetch(live.dataset.url, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (d) {
        setText("step", d.step); setText("total", d.total); setText("eta", d.eta); setText("elapsed", d.elapsed);
        setText("status", d.status);
        updateCharts(d.charts || []);
        live.dataset.polls = String(Number(live.dataset.polls || 0) + 1);
        if (d.status === "running") { setTimeout(poll, POLL_MS); } else { window.location.reload(); }
      }).catch(function () { setTimeout(poll, 2 * POLL_MS); });
    }
    setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); follow(); });
})();

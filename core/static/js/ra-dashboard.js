/* The dashboard's charts, drawn with the Apache ECharts served from /ra-static/vendor.
 * The numbers come from the JSON block the page carries (#ra-dashboard-data); a click on
 * a bar follows the chart's drill-down link for its category, else the list of the people
 * counted. "图片" saves a chart as PNG with ECharts' own getDataURL. No inline script:
 * the page may run under a nonce-based Content-Security-Policy. */
(function () {
  "use strict";

  var PALETTE = ["#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272",
                 "#fc8452", "#9a60b4", "#ea7ccc"];
  var FONT = '"Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  var ROW_PX = 24;       // height of one bar row in horizontal charts
  var ZOOM_ROWS = 15;    // more rows than this: scroll with a slider

  var source = document.getElementById("ra-dashboard-data");
  if (!source || !window.echarts) { return; }
  var board = JSON.parse(source.textContent);
  var instances = {};

  function fmt(n) { return Math.abs(n).toLocaleString("zh-CN"); }
  // The counting word of a series' numbers: 人 unless the chart says otherwise (期, 元).
  function unitOf(s) { return (s && s.unit) || "人"; }
  function colorOf(s, i) { return s.color || PALETTE[i % PALETTE.length]; }

  function targetOf(chart, name, seriesIndex) {
    if (chart.links && chart.links[name]) { return chart.links[name]; }
    var i = chart.categories.indexOf(name);
    var s = chart.series[seriesIndex || 0];
    return (s && s.lists && i >= 0 && s.lists[i]) || null;
  }

  function clickable(chart) {
    var any = Object.keys(chart.links || {}).length > 0;
    chart.series.forEach(function (s) {
      (s.lists || []).forEach(function (u) { any = any || !!u; });
    });
    return any;
  }

  function legend(chart) {
    return chart.series.length > 1 ? { top: 0, textStyle: { fontSize: 12 } } : { show: false };
  }

  function barOption(chart, horizontal, stacked) {
    var many = chart.categories.length;
    var cat = {
      type: "category", data: chart.categories, inverse: horizontal,
      axisLabel: horizontal ? { width: 140, overflow: "truncate" }
                            : { interval: 0, rotate: many > 8 ? 30 : 0, width: 90, overflow: "truncate" },
      axisTick: { alignWithLabel: true }
    };
    // Room beyond the longest bar for its number, so labels stay clear of the legend.
    var val = { type: "value", minInterval: 1, boundaryGap: [0, "15%"],
                splitLine: { lineStyle: { type: "dashed" } } };
    var option = {
      legend: legend(chart),
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 40, top: chart.series.length > 1 ? 40 : 16, bottom: 8, containLabel: true },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? cat : val,
      series: chart.series.map(function (s, i) {
        return {
          name: s.name, type: "bar", data: s.data, stack: stacked ? "total" : undefined,
          itemStyle: { color: colorOf(s, i) }, barMaxWidth: 36,
          label: { show: !stacked || chart.series.length === 1, position: horizontal ? "right" : "top",
                   formatter: function (p) { return p.value ? fmt(p.value) : ""; } }
        };
      })
    };
    if (horizontal && many > ZOOM_ROWS) {
      option.dataZoom = [
        { type: "slider", yAxisIndex: 0, startValue: 0, endValue: ZOOM_ROWS - 1, width: 14,
          right: 4, zoomLock: true, showDetail: false, brushSelect: false },
        { type: "inside", yAxisIndex: 0, zoomOnMouseWheel: false, moveOnMouseWheel: true }
      ];
      option.grid.right = 46;
    }
    return option;
  }

  function pieOption(chart) {
    var s = chart.series[0] || { data: [] };
    var unit = unitOf(s);
    var data = chart.categories.map(function (c, i) { return { name: c, value: s.data[i] }; })
      .filter(function (d) { return d.value > 0; });
    return {
      color: PALETTE,
      tooltip: { trigger: "item", formatter: function (p) {
        return p.name + "：" + fmt(p.value) + unit + "（" + p.percent + "%）"; } },
      legend: { bottom: 0, type: "scroll", textStyle: { fontSize: 12 } },
      // Small enough that the labels around it end above the legend at the bottom.
      series: [{
        name: s.name, type: "pie", radius: ["30%", "52%"], center: ["50%", "44%"],
        avoidLabelOverlap: true, data: data, labelLayout: { hideOverlap: true },
        label: { formatter: function (p) { return p.name + "\n" + fmt(p.value) + unit + " " + p.percent + "%"; } }
      }]
    };
  }

  function lineOption(chart) {
    return {
      legend: legend(chart),
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 24, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: chart.categories, boundaryGap: false },
      yAxis: { type: "value", minInterval: 1, boundaryGap: [0, "15%"],
               splitLine: { lineStyle: { type: "dashed" } } },
      series: chart.series.map(function (s, i) {
        return { name: s.name, type: "line", data: s.data, symbolSize: 7,
                 itemStyle: { color: colorOf(s, i) }, lineStyle: { width: 2 },
                 areaStyle: { opacity: 0.08 }, label: { show: true, fontSize: 10,
                   formatter: function (p) { return p.value ? fmt(p.value) : ""; } } };
      })
    };
  }

  function pyramidOption(chart) {
    var left = chart.series[0], right = chart.series[1] || { name: "", data: [] };
    var edge = function (v) { return Math.max(1, Math.ceil(Math.max(-v.min, v.max) * 1.2)); };
    var signed = function (s, sign) { return s.data.map(function (v) { return sign * v; }); };
    var label = function (pos) {
      return { show: true, position: pos, fontSize: 11,
               formatter: function (p) { return p.value ? fmt(p.value) : ""; } };
    };
    return {
      legend: { top: 0 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                 valueFormatter: function (v) { return fmt(v) + unitOf(left); } },
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      // Symmetric, with room beyond the longest bar for its number.
      xAxis: { type: "value", axisLabel: { formatter: function (v) { return fmt(v); },
                                           showMinLabel: false, showMaxLabel: false },
               min: function (v) { return -edge(v); }, max: function (v) { return edge(v); },
               splitLine: { lineStyle: { type: "dashed" } } },
      yAxis: { type: "category", data: chart.categories, axisTick: { show: false } },
      series: [
        { name: left.name, type: "bar", stack: "p", data: signed(left, -1), barCategoryGap: "18%",
          itemStyle: { color: colorOf(left, 0) }, label: label("left") },
        { name: right.name, type: "bar", stack: "p", data: signed(right, 1),
          itemStyle: { color: colorOf(right, 1) }, label: label("right") }
      ]
    };
  }

  function optionFor(chart) {
    var option;
    if (!chart.categories.length || chart.series.every(function (s) {
      return s.data.every(function (v) { return !v; }); })) {
      option = { title: { text: "暂无数据", left: "center", top: "middle",
                          textStyle: { color: "#999", fontSize: 16, fontWeight: "normal" } } };
    } else if (chart.kind === "pie") { option = pieOption(chart); }
    else if (chart.kind === "line") { option = lineOption(chart); }
    else if (chart.kind === "pyramid") { option = pyramidOption(chart); }
    else if (chart.kind === "hbar") { option = barOption(chart, true, false); }
    else if (chart.kind === "stack") { option = barOption(chart, true, true); }
    else { option = barOption(chart, false, false); }
    option.textStyle = { fontFamily: FONT };
    option.animation = false;
    return option;
  }

  function heightFor(chart) {
    if (chart.kind === "hbar" || chart.kind === "stack") {
      var rows = Math.min(chart.categories.length, ZOOM_ROWS);
      return Math.max(300, rows * ROW_PX + 70);
    }
    return chart.wide ? 340 : 320;
  }

  function draw(chart) {
    var el = document.querySelector('.ra-chart[data-chart="' + chart.key + '"]');
    if (!el) { return; }
    if (chart.error) {
      el.textContent = chart.error;
      return;
    }
    el.style.height = heightFor(chart) + "px";
    var inst = window.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
    inst.setOption(optionFor(chart));
    if (clickable(chart)) {
      inst.on("click", function (p) {
        var url = targetOf(chart, p.name, p.seriesIndex);
        if (url) { window.location.href = url; }
      });
    } else {
      inst.getZr().setCursorStyle("default");
    }
    instances[chart.key] = inst;
  }

  // The exported picture carries its own title and region (the page shows them around
  // the chart) but none of the page's hints (what a click does, the scroll bar): every
  // row is drawn. It is drawn by a second, off-screen instance so the page's chart stays put.
  function exportOption(chart) {
    var option = optionFor(chart);
    delete option.dataZoom;
    if (option.grid) { option.grid.right = 40; }
    var where = board.region ? board.region.full_name : "";
    option.title = [option.title || {}, { text: chart.title, subtext: (where + "　" + (chart.note || "")).trim(),
                     left: "center", top: 4, textStyle: { fontSize: 16 }, subtextStyle: { fontSize: 12 } }];
    if (option.grid) { option.grid.top = (option.grid.top || 0) + 60; }
    if (option.legend && option.legend.top === 0) { option.legend.top = 56; }
    if (chart.kind === "pie" && option.series) { option.series[0].center = ["50%", "55%"]; }
    return option;
  }

  function savePng(key) {
    var inst = instances[key];
    var chart = board.charts.filter(function (c) { return c.key === key; })[0];
    if (!inst || !chart) { return null; }
    var rows = chart.kind === "hbar" || chart.kind === "stack" ? chart.categories.length : 0;
    var height = Math.max(inst.getHeight(), rows * ROW_PX + 70) + 60;
    var box = document.createElement("div");
    box.style.cssText = "position:absolute;left:-10000px;top:0;width:" +
      Math.max(inst.getWidth(), 640) + "px;height:" + height + "px";
    document.body.appendChild(box);
    var off = window.echarts.init(box, null, { renderer: "canvas", locale: "ZH" });
    off.setOption(exportOption(chart));
    var url = off.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
    off.dispose();
    box.remove();
    var a = document.createElement("a");
    a.href = url;
    // The chart's Chinese title names the file (issue 14 item 7): no header here.
    a.download = chart.title.replace(/[\\/:*?"<>|\x00-\x1f]/g, "_") + ".png";
    document.body.appendChild(a);
    a.click();
    a.remove();
    return url;
  }

  board.charts.forEach(draw);
  Array.prototype.forEach.call(document.querySelectorAll(".ra-png"), function (button) {
    button.addEventListener("click", function () { savePng(button.getAttribute("data-chart")); });
  });
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      Object.keys(instances).forEach(function (k) { instances[k].resize(); });
    }, 100);
  });
  // For tests and for people who want the numbers behind a chart.
  window.raDashboard = { board: board, charts: instances, savePng: savePng,
                         exportOption: exportOption };
}());

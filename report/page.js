// Draws the timeline (canvas #gantt) from the arrays in #gantt-data:
// {"span": seconds, "pilots": [{"name", "lanes"}], "s": [lane, start ms,
// duration ms, state code, ...]}; state codes index COLORS. When done, the
// canvas carries data-drawn-lanes, data-drawn-segments and its place on the
// page (data-x, data-y, data-w, data-h, CSS pixels), for programs that check
// the page; errors are recorded in body[data-errors].
(function () {
  "use strict";
  var COLORS = ["#3b7dd8", "#d64541", "#9a9a9a", "#f0a030"];
  var NAMES = ["Done", "Failed", "Canceled", "Not final"];
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.body.setAttribute("data-errors", errors.join("\n"));
  });
  var canvas = document.getElementById("gantt");
  var data = JSON.parse(document.getElementById("gantt-data").textContent);
  var tip = document.getElementById("tip");
  var LEFT = 180, TOP = 22, BOTTOM = 4, MAXH = 640;
  var lanes = 0, i;
  for (i = 0; i < data.pilots.length; i++) lanes += data.pilots[i].lanes;
  var laneH = lanes > 0 ? Math.max(MAXH / lanes > 14 ? 14 : MAXH / lanes, 0.25) : 14;
  var height = Math.ceil(TOP + lanes * laneH + BOTTOM);
  var width = 1200, scale = 1;

  // axisLabel formats t seconds in the unit that suits span.
  function axisLabel(t, span) {
    if (span < 2) return (t * 1000).toFixed(0) + " ms";
    if (span < 300) return t.toFixed(span < 20 ? 1 : 0) + " s";
    if (span < 10800) return (t / 60).toFixed(span < 1200 ? 1 : 0) + " min";
    return (t / 3600).toFixed(1) + " h";
  }

  // shortName is "host (bj-1234abcd)" for a pilot name bigjob:bj-<uuid>:host.
  function shortName(name) {
    var m = /^bigjob:(bj-[0-9a-f]{8})[0-9a-f-]*:(.+)$/.exec(name);
    if (m) name = m[2] + " (" + m[1] + ")";
    return name.length > 26 ? name.slice(0, 25) + "…" : name;
  }

  function fmt(s) {
    if (s < 1) return (s * 1000).toFixed(0) + " ms";
    if (s < 120) return s.toFixed(s < 10 ? 2 : 1) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  // tick returns a round step for about n ticks over span seconds.
  function tick(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), steps = [1, 2, 5, 10], k;
    for (k = 0; k < steps.length; k++) if (steps[k] * p >= raw) return steps[k] * p;
    return 10 * p;
  }

  function draw() {
    var css = canvas.getBoundingClientRect().width || 1200, dpr = window.devicePixelRatio || 1;
    width = Math.max(400, Math.round(css));
    canvas.style.height = height + "px";
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    var g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, width, height);
    var plot = width - LEFT - 8, span = data.span > 0 ? data.span : 1;
    scale = plot / (span * 1000);
    // pilot bands and names
    var off = 0, p, y, h;
    g.font = "12px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (p = 0; p < data.pilots.length; p++) {
      y = TOP + off * laneH;
      h = data.pilots[p].lanes * laneH;
      g.fillStyle = p % 2 ? "#f3f5f8" : "#e9edf3";
      g.fillRect(LEFT, y, plot, h);
      g.fillStyle = "#333";
      if (h >= 10) g.fillText(shortName(data.pilots[p].name), 4, y + h / 2);
      off += data.pilots[p].lanes;
    }
    // time axis
    var step = tick(span, 10), t;
    g.strokeStyle = "#ccc";
    g.fillStyle = "#555";
    g.textBaseline = "alphabetic";
    for (t = 0; t <= span + 1e-9; t += step) {
      var x = LEFT + t * 1000 * scale;
      g.beginPath();
      g.moveTo(x + 0.5, TOP - 4);
      g.lineTo(x + 0.5, height - BOTTOM);
      g.stroke();
      g.fillText(axisLabel(t, span), x + 2, TOP - 8);
    }
    // segments, one pass per state (one fill style each)
    var s = data.s, n = s.length / 4, drawn = 0, c, j, w;
    var hh = laneH > 2 ? laneH - 1 : laneH;
    for (c = 0; c < COLORS.length; c++) {
      g.fillStyle = COLORS[c];
      for (j = 0; j < s.length; j += 4) {
        if (s[j + 3] !== c) continue;
        w = s[j + 2] * scale;
        g.fillRect(LEFT + s[j + 1] * scale, TOP + s[j] * laneH, w < 1 ? 1 : w, hh);
        drawn++;
      }
    }
    var r = canvas.getBoundingClientRect();
    canvas.setAttribute("data-drawn-lanes", String(lanes));
    canvas.setAttribute("data-drawn-segments", String(drawn === n ? drawn : -1));
    canvas.setAttribute("data-x", String(Math.round(r.left + window.scrollX)));
    canvas.setAttribute("data-y", String(Math.round(r.top + window.scrollY)));
    canvas.setAttribute("data-w", String(Math.round(r.width)));
    canvas.setAttribute("data-h", String(Math.round(r.height)));
  }

  // The unit under the pointer, by lane and time.
  canvas.addEventListener("mousemove", function (e) {
    var r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    var lane = Math.floor((y - TOP) / laneH), ms = (x - LEFT) / scale, s = data.s, j, hit = -1;
    for (j = 0; j < s.length; j += 4) {
      if (s[j] === lane && s[j + 1] <= ms + 1 / scale && s[j + 1] + s[j + 2] >= ms - 1 / scale) { hit = j; break; }
    }
    if (hit < 0 || x < LEFT) { tip.hidden = true; return; }
    var off = 0, p;
    for (p = 0; p < data.pilots.length && lane >= off + data.pilots[p].lanes; p++) off += data.pilots[p].lanes;
    tip.textContent = NAMES[s[hit + 3]] + " · " + (data.pilots[p] ? data.pilots[p].name : "") + " slot lane " + (lane - off) +
      " · from " + fmt(s[hit + 1] / 1000) + " for " + fmt(s[hit + 2] / 1000);
    tip.style.left = (x + 12) + "px";
    tip.style.top = (y + 12) + "px";
    tip.hidden = false;
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  window.addEventListener("resize", draw);
  draw();
})();

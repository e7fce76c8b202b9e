// The BPTT explorer: steps through the frames in the page's JSON (minigrad/viz/explorer/page.py).
// window.minigradExplorer = {length, goto(i), next(), prev(), state(), contributions(name)}.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mg-data").textContent);
  var frames = data.frames;
  var index = 0;
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };
  var graph = $("mg-graph");
  var elements = {};  // drawing id -> SVG <g>
  graph.querySelectorAll("g.node, g.edge, g.cluster").forEach(function (g) { elements[g.id] = g; });

  function fmt(x) {
    if (x === null || x === undefined) { return "\u2014"; }
    if (x === 0) { return "0"; }
    var a = Math.abs(x);
    return (a < 1e-3 || a >= 1e5) ? x.toExponential(5).replace(/\.?0+e/, "e") : String(x);
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function shapes(g) { return g ? g.querySelectorAll("polygon, ellipse, path") : []; }

  // Where each node first appears in each pass, for the "reached" outlines.
  var firstForward = {}, firstBackward = {};
  frames.forEach(function (f, i) {
    var first = f.phase === "forward" ? firstForward : firstBackward;
    if (!(f.node in first)) { first[f.node] = i; }
  });

  var current = [];     // the elements highlighted now
  var fillOf = {};      // the fill last given to each coloured element
  function paint() {
    var f = frames[index];
    current.forEach(function (g) { g.classList.remove("mg-current"); });
    current = [];
    Object.keys(data.nodes).forEach(function (id) {
      var g = elements[id];
      if (!g) { return; }
      var fwd = firstForward[id] !== undefined && firstForward[id] <= index;
      var bwd = firstBackward[id] !== undefined && firstBackward[id] <= index;
      g.classList.toggle("mg-forward-done", fwd && !bwd);
      g.classList.toggle("mg-backward-done", bwd);
    });
    data.coloured.forEach(function (c) {  // log10 ||dL/dh_t||, once the gradient has arrived
      var g = elements[c.id], fill = index >= c.from ? c.fill : "#ffffff";
      if (!g || fillOf[c.id] === fill) { return; }
      fillOf[c.id] = fill;
      var fillable = g.classList.contains("cluster") ? [g.querySelector("polygon, path")] : shapes(g);
      fillable.forEach(function (s) { if (s) { s.style.fill = fill; } });
    });
    var node = elements[f.node];
    if (node) {
      node.classList.add("mg-current");
      current.push(node);
      scrollTo(node);
    }
    if (f.edge && elements[f.edge]) { elements[f.edge].classList.add("mg-current"); current.push(elements[f.edge]); }
    (f.into || []).forEach(function (w) {  // gradient accumulating into a shared weight
      [elements[w.node], elements[w.edge]].forEach(function (g) {
        if (g) { g.classList.add("mg-current"); current.push(g); }
      });
    });
    showNode(f);
    $("mg-eq").textContent = data.equations[f.eq] || "";
    $("mg-slider").value = index;
    $("mg-counter").innerHTML = "frame " + (index + 1) + " / " + frames.length + " \u2014 <span class=\"mg-phase-" +
      f.phase + "\">" + f.phase + "</span>" + (f.t ? " \u2014 t = " + f.t : "");
    if (f.t) { $("mg-t").value = f.t; }
    showAccumulation();
    drawBars();
  }

  function scrollTo(g) {  // keep the current node in view without moving the page itself
    var box = g.getBoundingClientRect(), view = graph.getBoundingClientRect();
    if (box.left < view.left || box.right > view.right) {
      graph.scrollLeft += box.left - view.left - (view.width - box.width) / 2;
    }
    if (box.top < view.top || box.bottom > view.bottom) {
      graph.scrollTop += box.top - view.top - (view.height - box.height) / 2;
    }
  }

  function showNode(f) {
    var n = data.nodes[f.node] || {label: f.node, scope: ""};
    var where = esc(n.scope || "(none)") + (f.t ? " <span class=\"mg-small\">(time step t = " + f.t + ")</span>" : "");
    var rows = [["node", esc(n.label)], ["scope", where]];
    // Each number is named by what it is the norm of: a state (h_3, c_3) where it is identified,
    // otherwise the op's output. A step whose h_t is not identified shows no value at all.
    if (f.quantity) {
      rows.push(["||" + f.quantity + "||", fmt(f.value)]);
      if (f.phase === "backward") { rows.push(["||dL/d" + f.quantity + "||", fmt(f.grad_norm)]); }
    } else if (n.kind === "cell") {
      rows.push(["h_t", "not identified in this step: no value shown, nothing coloured"]);
    } else {
      rows.push(["||output||", fmt(f.value)]);
      if (f.phase === "backward") { rows.push(["||dL/d output||", fmt(f.grad_norm)]); }
    }
    if (f.c_value !== null && f.c_value !== undefined) {  // an LSTM cell: the cell state carries the gradient
      rows.push(["||c_" + f.t + "||", fmt(f.c_value)]);
      if (f.phase === "backward") { rows.push(["||dL/dc_" + f.t + "||", fmt(f.c_grad_norm)]); }
    }
    $("mg-node").innerHTML = "<h2>Current node</h2><table>" + rows.map(function (r) {
      return "<tr><td>" + r[0] + "</td><td>" + r[1] + "</td></tr>";
    }).join("") + "</table>";
  }

  function showAccumulation() {
    var rows = data.weights.map(function (w) {
      var so = 0;
      w.accum.forEach(function (a) { if (a[0] <= index) { so = a[1]; } });
      return "<tr><td>" + esc(w.name) + "</td><td>" + fmt(Number(so.toPrecision(6))) + " / " +
        fmt(Number(w.total_norm.toPrecision(6))) + "</td></tr>";
    });
    $("mg-accum").innerHTML = rows.length ? "<tr><td>weight</td><td>||dL/dW|| so far / total</td></tr>" + rows.join("")
      : "<tr><td class=\"mg-small\">no weight is shared by several steps</td></tr>";
  }

  function drawBars() {
    var w = data.weights[$("mg-weight").selectedIndex];
    var box = $("mg-bars");
    if (!w) { box.innerHTML = ""; return; }
    var W = 340, H = 120, pad = 18, n = w.proj.length;
    var lo = Math.min(0, Math.min.apply(null, w.proj)), hi = Math.max(0, Math.max.apply(null, w.proj));
    if (hi === lo) { hi = lo + 1; }
    var y = function (v) { return pad + (H - 2 * pad) * (hi - v) / (hi - lo); };
    var bw = (W - 10) / n, cur = frames[index].t;
    var parts = ["<svg width=\"" + W + "\" height=\"" + H + "\" role=\"img\">",
                 "<line x1=\"5\" x2=\"" + (W - 5) + "\" y1=\"" + y(0) + "\" y2=\"" + y(0) + "\" stroke=\"#999\"/>"];
    w.proj.forEach(function (v, k) {
      var top = Math.min(y(v), y(0)), h = Math.max(1, Math.abs(y(v) - y(0)));
      var fill = (k + 1) === cur ? "#d6336c" : (v >= 0 ? "#4a7ab8" : "#d08a3a");
      parts.push("<rect x=\"" + (5 + k * bw + 0.1 * bw) + "\" y=\"" + top + "\" width=\"" + Math.max(1, 0.8 * bw) +
                 "\" height=\"" + h + "\" fill=\"" + fill + "\"><title>t = " + (k + 1) + ": projection " + fmt(v) +
                 ", ||term|| " + fmt(w.norms[k]) + "</title></rect>");
    });
    parts.push("<text x=\"5\" y=\"12\" font-size=\"10\">t = 1</text><text x=\"" + (W - 5) +
               "\" y=\"12\" font-size=\"10\" text-anchor=\"end\">t = " + n + "</text></svg>");
    box.innerHTML = parts.join("");
    $("mg-bars-note").textContent = "Bar t: step t's term of dL/d" + w.name + " projected on the whole gradient; " +
      "the bars add up to ||dL/d" + w.name + "|| = " + fmt(Number(w.total_norm.toPrecision(6))) + ".";
  }

  function goto(i) {
    i = Number(i);
    if (!isFinite(i)) { throw new Error("minigradExplorer.goto: frame index must be a number, got " + i); }
    index = Math.max(0, Math.min(frames.length - 1, Math.round(i)));
    paint();
    return state();
  }
  function state() {
    var f = frames[index], n = data.nodes[f.node] || {label: f.node, scope: ""};
    var node = {id: f.node, label: n.label, scope: n.scope, value: f.value, grad_norm: f.grad_norm,
                quantity: f.quantity};
    if (f.c_value !== null && f.c_value !== undefined) { node.c_value = f.c_value; node.c_grad_norm = f.c_grad_norm; }
    return {phase: f.phase, index: index, t: f.t, node: node};
  }
  function decode(b64) {
    var bytes = atob(b64), buf = new ArrayBuffer(bytes.length), view = new Uint8Array(buf);
    for (var k = 0; k < bytes.length; k++) { view[k] = bytes.charCodeAt(k); }
    return new Float64Array(buf);
  }
  function contributions(name) {
    var w = data.weights.filter(function (x) { return x.name === name; })[0];
    if (!w) {
      throw new Error("minigradExplorer.contributions: no weight named " + JSON.stringify(name) + "; the page has " +
                      JSON.stringify(data.weights.map(function (x) { return x.name; })));
    }
    if (w.data === null) {
      throw new Error("minigradExplorer.contributions: the page was saved without the per-step arrays (too many " +
                      "numbers); use mg.viz.grad_contributions in Python");
    }
    var all = decode(w.data), size = all.length / w.steps, out = [];
    for (var t = 0; t < w.steps; t++) { out.push(Array.prototype.slice.call(all, t * size, (t + 1) * size)); }
    return out;
  }
  function jump(phase) {
    var t = Number($("mg-t").value);
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].phase === phase && frames[i].t === t) { goto(i); return; }
    }
  }
  function play() {
    if (timer) { clearInterval(timer); timer = null; $("mg-play").innerHTML = "&#9654; play"; return; }
    $("mg-play").innerHTML = "&#10074;&#10074; pause";
    timer = setInterval(function () {
      if (index >= frames.length - 1) { play(); } else { goto(index + 1); }
    }, 400);
  }

  // Static parts: notes, legend, the weight selector.
  $("mg-notes").innerHTML = data.notes.map(function (n) { return "<div class=\"mg-note\">" + esc(n) + "</div>"; }).join("");
  $("mg-legend").innerHTML = data.legend.stops.length ? "<div class=\"mg-legend\">" + data.legend.stops.map(function (s) {
    return "<span style=\"background:" + s.fill + ";color:" + s.text + "\">" + s.label + "</span>";
  }).join("") + "<span style=\"background:" + data.legend.zero + "\">0</span></div>" +
    "<p class=\"mg-small\">Each step is coloured once the backward pass reaches it; white: not yet.</p>"
    : "<p class=\"mg-small\">No hidden state identified, so no colouring.</p>";
  $("mg-weight").innerHTML = data.weights.map(function (w) { return "<option>" + esc(w.name) + "</option>"; }).join("");
  var recurrent = data.weights.map(function (w) { return w.name.indexOf("weight_hh") === 0; }).indexOf(true);
  if (recurrent > 0) { $("mg-weight").selectedIndex = recurrent; }  // W_hh first: the recurrent weight
  $("mg-slider").max = frames.length - 1;
  $("mg-slider").addEventListener("input", function (e) { goto(e.target.value); });
  $("mg-prev").addEventListener("click", function () { goto(index - 1); });
  $("mg-next").addEventListener("click", function () { goto(index + 1); });
  $("mg-play").addEventListener("click", play);
  $("mg-weight").addEventListener("change", drawBars);
  $("mg-jump-forward").addEventListener("click", function () { jump("forward"); });
  $("mg-jump-backward").addEventListener("click", function () { jump("backward"); });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") { return; }
    if (e.key === "ArrowRight") { goto(index + 1); } else if (e.key === "ArrowLeft") { goto(index - 1); }
    else if (e.key === " ") { e.preventDefault(); play(); }
  });

  window.minigradExplorer = {
    length: frames.length, goto: goto, state: state, contributions: contributions,
    readyMs: 0,  // milliseconds from navigation until the explorer was ready (set below)
    next: function () { return goto(index + 1); }, prev: function () { return goto(index - 1); }
  };
  paint();
  window.minigradExplorer.readyMs = performance.now();
}());

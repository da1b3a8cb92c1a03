"use strict";
// primer report: draws the campaign held in the #data element. No library; canvases for the
// point clouds (fast at 25,000 candidates), SVG for the lineage, tables for the rest.
const D = JSON.parse(document.getElementById("data").textContent);
const C = D.c;
const N = C.id.length;
const OUT = D.outcomes;
const COLOR = {
  finished: "#2660c9", stopped: "#a3abbb", reused: "#79b0e6", invalid: "#c0392b",
  diverged: "#e67e22", out_of_memory: "#8e44ad", failed: "#222222",
};

// ---- small helpers -------------------------------------------------------------------
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}
function fmt(x, d) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  return Number(x).toFixed(d === undefined ? 4 : d);
}
function si(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a === 0) return "0";
  if (a >= 1e4 || a < 1e-2) {
    const e = Math.floor(Math.log10(a));
    const m = x / Math.pow(10, e);
    return (Math.abs(m - Math.round(m)) < 0.05 ? Math.round(m).toString() : m.toFixed(1)) + "e" + e;
  }
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}
function dur(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + r + " s";
}
function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((sorted.length - 1) * q)))];
}
function outcomeName(i) { return C.outcome[i] >= 0 ? OUT[C.outcome[i]] : "pending"; }
function kindName(i) { return C.kind[i] >= 0 ? D.kinds[C.kind[i]] : "seed"; }
function stat(v, k) { return el("div", { class: "stat" }, el("div", { class: "v", text: v }), el("div", { class: "k", text: k })); }
function drawn(id) { document.getElementById(id).dataset.drawn = "yes"; }

// The loss range worth plotting: diverged and broken programs can have losses far above the
// rest; the axis covers the 0.5%..99.5% quantiles of finite losses (plus the best).
const LOSSES = C.fitness.filter((f) => f !== null && isFinite(f)).sort((a, b) => a - b);
const LOSS_RANGE = LOSSES.length
  ? [LOSSES[0], Math.max(quantile(LOSSES, 0.995), LOSSES[0] + 1e-3)]
  : [0, 1];

// ---- ticks ---------------------------------------------------------------------------
function niceStep(span, n) {
  const raw = span / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}
function linearTicks(lo, hi, n) {
  const step = niceStep(hi - lo || 1, n);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return { major: out, minor: [], label: (v) => (Math.abs(v) >= 1e4 ? si(v) : +v.toPrecision(6) + "") };
}
function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const major = [], minor = [];
  for (let e = a; e <= b; e++) {
    const d = Math.pow(10, e);
    if (d >= lo * 0.999 && d <= hi * 1.001) major.push(d);
    for (let k = 2; k <= 9; k++) if (k * d >= lo && k * d <= hi) minor.push(k * d);
  }
  // A narrow range holds fewer than two decades: label 1, 2 and 5 times each as well.
  if (major.length < 2) {
    const m = (v) => Math.round(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)));
    const labelled = minor.filter((v) => m(v) === 2 || m(v) === 5);
    return { major: major.concat(labelled).sort((x, y) => x - y), minor: minor.filter((v) => !labelled.includes(v)), label: si };
  }
  return { major, minor, label: (v) => "1e" + Math.round(Math.log10(v)) };
}

// ---- the plot ------------------------------------------------------------------------
// opts: { parent, height, xlabel, ylabel, xlog, ylog, xrange, yrange, caption,
//         series: [{ x, y, kind: "points"|"line"|"step", color, colors, idx, width, label }],
//         hlines: [{ y, label, color }], tip(i) -> text, click(i) }
function plot(opts) {
  const fig = el("figure");
  const canvas = el("canvas");
  fig.append(canvas);
  if (opts.legend) fig.append(opts.legend);
  if (opts.caption) fig.append(el("figcaption", { text: opts.caption }));
  opts.parent.append(fig);
  const dpr = window.devicePixelRatio || 1;
  const W = Math.max(300, Math.floor(fig.getBoundingClientRect().width || 600));
  const H = opts.height || 300;
  canvas.width = W * dpr; canvas.height = H * dpr; canvas.style.height = H + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const M = { l: 62, r: 14, t: 10, b: 40 };
  const ok = (v, log) => v !== null && v !== undefined && isFinite(v) && (!log || v > 0);
  const range = (axis, log, given) => {
    if (given) return given;
    let lo = Infinity, hi = -Infinity;
    for (const s of opts.series) for (const v of s[axis]) if (ok(v, log)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!isFinite(lo)) return log ? [1, 10] : [0, 1];
    if (lo === hi) return log ? [lo / 2, hi * 2] : [lo - 1, hi + 1];
    if (log) return [lo / 1.15, hi * 1.15];
    const pad = (hi - lo) * 0.04;
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = range("x", opts.xlog, opts.xrange);
  const [y0, y1] = range("y", opts.ylog, opts.yrange);
  const tx = (v) => opts.xlog ? Math.log10(v) : v, ty = (v) => opts.ylog ? Math.log10(v) : v;
  const X = (v) => M.l + (tx(v) - tx(x0)) / (tx(x1) - tx(x0)) * (W - M.l - M.r);
  const Y = (v) => H - M.b - (ty(v) - ty(y0)) / (ty(y1) - ty(y0)) * (H - M.t - M.b);
  // Axes, grid, ticks.
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#e4e7ec"; ctx.fillStyle = "#5b6476"; ctx.lineWidth = 1;
  const xt = opts.xlog ? logTicks(x0, x1) : linearTicks(x0, x1, Math.max(3, Math.floor(W / 110)));
  const yt = opts.ylog ? logTicks(y0, y1) : linearTicks(y0, y1, Math.max(3, Math.floor(H / 55)));
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const v of xt.major) { const x = X(v); ctx.beginPath(); ctx.moveTo(x, M.t); ctx.lineTo(x, H - M.b + 5); ctx.stroke(); ctx.fillText(xt.label(v), x, H - M.b + 7); }
  for (const v of xt.minor) { const x = X(v); ctx.beginPath(); ctx.moveTo(x, H - M.b); ctx.lineTo(x, H - M.b + 3); ctx.stroke(); }
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of yt.major) { const y = Y(v); ctx.beginPath(); ctx.moveTo(M.l - 5, y); ctx.lineTo(W - M.r, y); ctx.stroke(); ctx.fillText(yt.label(v), M.l - 7, y); }
  for (const v of yt.minor) { const y = Y(v); ctx.beginPath(); ctx.moveTo(M.l - 3, y); ctx.lineTo(M.l, y); ctx.stroke(); }
  ctx.strokeStyle = "#9aa3b5";
  ctx.strokeRect(M.l, M.t, W - M.l - M.r, H - M.t - M.b);
  ctx.fillStyle = "#1d2330"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ctx.fillText(opts.xlabel || "", M.l + (W - M.l - M.r) / 2, H - 2);
  ctx.save(); ctx.translate(12, M.t + (H - M.t - M.b) / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = "middle";
  ctx.fillText(opts.ylabel || "", 0, 0); ctx.restore();
  // Clip to the frame; points above the loss range sit on its top edge.
  ctx.save(); ctx.beginPath(); ctx.rect(M.l, M.t, W - M.l - M.r, H - M.t - M.b); ctx.clip();
  const hover = [];
  const clampY = (v) => (ok(v, opts.ylog) ? Math.max(Math.min(v, y1), y0) : null);
  for (const s of opts.series) {
    const n = s.x.length;
    if (s.kind === "points") {
      const r = s.r || 1.6;
      const byColor = new Map();
      for (let k = 0; k < n; k++) {
        const vy = clampY(s.y[k]);
        if (!ok(s.x[k], opts.xlog) || vy === null) continue;
        const c = s.colors ? s.colors[k] : s.color;
        if (!byColor.has(c)) byColor.set(c, []);
        const px = X(s.x[k]), py = Y(vy);
        byColor.get(c).push(px, py);
        if (s.idx) hover.push([px, py, s.idx[k]]);
      }
      for (const [c, pts] of byColor) {
        ctx.fillStyle = c;
        ctx.globalAlpha = s.alpha || 0.75;
        for (let k = 0; k < pts.length; k += 2) ctx.fillRect(pts[k] - r, pts[k + 1] - r, 2 * r, 2 * r);
      }
      ctx.globalAlpha = 1;
      if (s.ring) {
        ctx.strokeStyle = s.ring; ctx.lineWidth = 1.5;
        for (let k = 0; k < n; k++) {
          const vy = clampY(s.y[k]);
          if (!ok(s.x[k], opts.xlog) || vy === null) continue;
          ctx.beginPath(); ctx.arc(X(s.x[k]), Y(vy), (s.r || 1.6) + 3, 0, 2 * Math.PI); ctx.stroke();
        }
      }
    } else {
      ctx.strokeStyle = s.color; ctx.lineWidth = s.width || 1.8;
      if (s.dash) ctx.setLineDash(s.dash);
      ctx.beginPath();
      let started = false, lastY = null;
      for (let k = 0; k < n; k++) {
        if (!ok(s.x[k], opts.xlog) || !ok(s.y[k], opts.ylog)) continue;
        const px = X(s.x[k]), py = Y(Math.max(Math.min(s.y[k], y1), y0));
        if (!started) { ctx.moveTo(px, py); started = true; }
        else if (s.kind === "step") { ctx.lineTo(px, lastY); ctx.lineTo(px, py); }
        else ctx.lineTo(px, py);
        lastY = py;
        if (s.idx) hover.push([px, py, s.idx[k]]);
      }
      if (s.kind === "step" && started) ctx.lineTo(W - M.r, lastY);
      ctx.stroke(); ctx.setLineDash([]);
    }
  }
  for (const h of opts.hlines || []) {
    if (!ok(h.y, opts.ylog) || h.y < y0 || h.y > y1) continue;
    const y = Y(h.y);
    ctx.strokeStyle = h.color || "#1f8a4c"; ctx.setLineDash([5, 4]); ctx.lineWidth = 1.2;
    ctx.beginPath(); ctx.moveTo(M.l, y); ctx.lineTo(W - M.r, y); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = h.color || "#1f8a4c"; ctx.textAlign = "right"; ctx.textBaseline = "bottom";
    ctx.fillText(h.label, W - M.r - 4, y - 2);
  }
  ctx.restore();
  // Hover and click.
  const tip = document.getElementById("tip");
  const nearest = (ev) => {
    const r = canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    let best = null, bd = 64;
    for (const [px, py, i] of hover) { const d = (px - mx) ** 2 + (py - my) ** 2; if (d < bd) { bd = d; best = i; } }
    return best;
  };
  if (opts.tip) {
    canvas.addEventListener("mousemove", (ev) => {
      const i = nearest(ev);
      if (i === null) { tip.hidden = true; return; }
      tip.textContent = opts.tip(i);
      tip.hidden = false;
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 430) + "px";
      tip.style.top = ev.clientY + 14 + "px";
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  }
  if (opts.click) canvas.addEventListener("click", (ev) => { const i = nearest(ev); if (i !== null) opts.click(i); });
  return canvas;
}

// n empty cells appended to a grid now, so that each plot measures its final width.
function cells(grid, n) {
  const out = [];
  for (let k = 0; k < n; k++) { const d = el("div"); grid.append(d); out.push(d); }
  return out;
}

function legend(items) {
  return el("div", { class: "legend" }, ...items.map(([c, t]) => el("span", {}, el("i", { style: "background:" + c }), t)));
}

// ---- the details panel ---------------------------------------------------------------
const TOP = new Map(D.top.map((t) => [t.candidate, t]));
const LINE = new Map(D.lineage.map((n) => [n.candidate, n]));
const INDEX = new Map(C.id.map((id, i) => [id, i]));
function tipOf(i) {
  return "candidate " + C.id[i] + " (birth " + C.birth[i] + "): " + fmt(C.fitness[i]) + " " + outcomeName(i) +
    (C.desc[i] ? " — " + C.desc[i] : "");
}
function show(i) {
  const p = document.getElementById("details");
  const b = p.querySelector(".body");
  b.textContent = "";
  const id = C.id[i];
  b.append(el("h2", { text: "Candidate " + id }));
  const kv = el("div", { class: "kv" });
  const row = (k, v) => kv.append(el("b", { text: k }), typeof v === "string" ? el("span", { text: v }) : v);
  row("birth", "" + C.birth[i]);
  row("outcome", outcomeName(i));
  row("loss", fmt(C.fitness[i]) + " nats/token (" + fmt(C.fitness[i] / Math.LN2 / D.campaign.bytes_per_token) + " bits/byte)");
  row("steps", "" + C.steps[i]);
  row("training FLOPs", si(C.flops[i]));
  row("parameters", si(C.params[i]));
  row("FLOPs per token", si(C.fpt[i]));
  row("hurdles passed", "" + C.hurdles[i]);
  row("mutation", C.desc[i] || kindName(i));
  if (C.parent[i] >= 0) {
    const pi = C.parent[i];
    row("parent", el("a", { href: "#", onclick: (e) => { e.preventDefault(); show(pi); }, text: "candidate " + C.id[pi] + " (" + fmt(C.fitness[pi]) + ")" }));
  }
  b.append(kv);
  const t = TOP.get(id), n = LINE.get(id);
  if (t) b.append(el("h3", { text: "Against its seed" }), el("pre", { text: t.diff }));
  if (n) b.append(el("h3", { text: "Program" }), el("pre", { text: n.program }));
  if (!t && !n) b.append(el("p", { class: "muted", text: "primer show " + id + " prints its program, curve and diffs." }));
  p.hidden = false;
}
document.getElementById("close").addEventListener("click", () => { document.getElementById("details").hidden = true; });

// ---- 1. the header -------------------------------------------------------------------
function drawHeader() {
  const h = D.campaign;
  document.getElementById("name").textContent = h.name;
  const b = document.querySelector("#header .body");
  const done = h.measured + h.lost;
  b.append(el("div", { class: "stats" },
    stat(done + " / " + h.target, "candidates done"),
    stat("" + h.measured, "measured"),
    stat("" + h.stopped, "stopped at hurdles"),
    stat("" + h.reused, "reused (equal program)"),
    stat("" + h.program_failures, "programs failed"),
    stat("" + h.lost, "lost (workers died)"),
    stat("" + h.running, "training now"),
    stat("" + h.pending, "pending"),
    stat(dur(h.elapsed), h.finished_at ? "took" : "elapsed"),
    stat(h.finished_at ? "finished" : dur(h.eta), h.finished_at ? "state" : "estimated rest")));
  const kv = el("div", { class: "kv" });
  const row = (k, v) => kv.append(el("b", { text: k }), el("span", { text: v }));
  row("store", h.store);
  row("campaign", h.name + " (id " + h.id + ")");
  row("search", h.strategy + ", population " + h.population + ", tournament " + h.tournament);
  row("model", h.model);
  row("budget", h.budget + " per candidate, " + h.hurdles + " halving hurdles");
  row("seeds", h.seeds.join(", "));
  const A = D.analysis || {};
  if (A.reused_from_other_campaigns) row("reused", A.reused_from_other_campaigns + " losses measured in other campaigns of the store, not trained again");
  if (A.redrawn_over_limit) row("cost limits", A.redrawn_over_limit + " children over the search space's cost limits, redrawn");
  row("started", new Date(h.created_at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC");
  row("this page", new Date(h.generated_at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" + (D.refresh ? " (reloads every " + D.refresh + " s)" : ""));
  const grid = el("div", { class: "grid" });
  const left = el("div", {}, kv);
  if (h.workers.length) {
    const live = h.workers.filter((w) => w.state !== "exited");
    const t = el("table", {}, el("tr", {}, ...["worker", "host", "device", "state", "done"].map((x) => el("th", { class: x === "worker" ? "l" : "", text: x }))));
    for (const w of (live.length ? live : h.workers).slice(0, 40)) {
      t.append(el("tr", {}, el("td", { class: "l", text: w.id }), el("td", { text: w.host }), el("td", { text: w.device }), el("td", { text: w.state }), el("td", { text: "" + w.done })));
    }
    left.append(el("h3", { text: "Workers (" + live.length + " not exited of " + h.workers.length + ")" }), t);
  }
  grid.append(left);
  if (h.best) {
    const bi = INDEX.get(h.best.candidate);
    grid.append(el("div", {},
      el("h3", {}, "Best so far: ", el("a", { href: "#", onclick: (e) => { e.preventDefault(); show(bi); }, text: "candidate " + h.best.candidate }),
        " (birth " + h.best.birth + "), loss " + fmt(h.best.fitness) + " (" + fmt(h.best.fitness / Math.LN2) + " bits/byte)"),
      el("pre", { text: h.best.program })));
  }
  b.append(grid);
  const cfg = el("details", {}, el("summary", { text: "the stored configuration" }), el("pre", { text: JSON.stringify(h.config, null, 2) }));
  b.append(cfg);
  drawn("header");
}

// ---- 2. search progress --------------------------------------------------------------
function drawProgress() {
  const b = document.querySelector("#progress .body");
  const births = C.birth, colors = C.outcome.map((o) => COLOR[OUT[o]] || "#cccccc");
  const idx = C.id.map((_, i) => i);
  // Best so far, cumulative compute.
  const best = [], cumF = [], cumS = [];
  let m = Infinity, f = 0, s = 0;
  for (let i = 0; i < N; i++) {
    const v = C.fitness[i];
    if (v !== null && v < m) m = v;
    best.push(isFinite(m) ? m : null);
    f += C.flops[i] || 0; s += C.seconds[i] || 0;
    cumF.push(f); cumS.push(s);
  }
  const seedLoss = C.fitness.find((v, i) => C.seed[i] >= 0 && v !== null);
  const hl = seedLoss !== undefined ? [{ y: seedLoss, label: "seed " + fmt(seedLoss), color: "#1f8a4c" }] : [];
  const pm = D.population_median;
  const grid = el("div", { class: "grid" });
  b.append(legend([[COLOR.finished, "finished"], [COLOR.stopped, "stopped at a hurdle"], [COLOR.reused, "reused"], [COLOR.diverged, "diverged"], [COLOR.invalid, "invalid"], ["#d62728", "best so far"], ["#7a4fb5", "population median"], ["#1f8a4c", "seed"]]));
  b.append(grid);
  const cell = cells(grid, 3);
  const common = { yrange: [LOSS_RANGE[0] - (LOSS_RANGE[1] - LOSS_RANGE[0]) * 0.03, LOSS_RANGE[1]], ylabel: "validation loss (nats/token)", tip: tipOf, click: show, hlines: hl, height: 300 };
  plot(Object.assign({}, common, {
    parent: cell[0], xlabel: "birth",
    series: [
      { x: births, y: C.fitness, kind: "points", colors, idx },
      { x: pm.map((p) => p[0]), y: pm.map((p) => p[1]), kind: "line", color: "#7a4fb5", width: 1.5 },
      { x: births, y: best, kind: "step", color: "#d62728", width: 2 },
    ],
    caption: "every candidate's loss against its birth; points above the axis are drawn on its top edge",
  }));
  plot(Object.assign({}, common, {
    parent: cell[1], xlabel: "cumulative training FLOPs", xlog: true,
    series: [{ x: cumF, y: C.fitness, kind: "points", colors, idx }, { x: cumF, y: best, kind: "step", color: "#d62728", width: 2 }],
    caption: "against the compute spent so far (log axis)",
  }));
  plot(Object.assign({}, common, {
    parent: cell[2], xlabel: "cumulative training seconds", xlog: true,
    series: [{ x: cumS, y: C.fitness, kind: "points", colors, idx }, { x: cumS, y: best, kind: "step", color: "#d62728", width: 2 }],
    caption: "against the training time spent so far (log axis)",
  }));
  drawn("progress");
}

// ---- 3. loss against cost ------------------------------------------------------------
function pareto(xs) {
  // Indices of candidates no other beats on both cost and loss (lower is better for both),
  // among those trained to the full budget (finished or reused: a loss at a hurdle is not comparable).
  const full = (i) => OUT[C.outcome[i]] === "finished" || OUT[C.outcome[i]] === "reused";
  const order = C.id.map((_, i) => i).filter((i) => C.fitness[i] !== null && xs[i] > 0 && full(i)).sort((a, b) => xs[a] - xs[b] || C.fitness[a] - C.fitness[b]);
  const front = [];
  let m = Infinity;
  for (const i of order) if (C.fitness[i] < m) { m = C.fitness[i]; front.push(i); }
  return front;
}
function drawCost() {
  const b = document.querySelector("#cost .body");
  const grid = el("div", { class: "grid" });
  b.append(el("p", { class: "muted", text: "Cheaper and better programs are what the paper's implicit efficiency objective rewards: the front (ringed, joined) holds the candidates no other candidate beats on both." }));
  b.append(grid);
  const cell = cells(grid, 2);
  const colors = C.outcome.map((o) => COLOR[OUT[o]] || "#cccccc");
  const idx = C.id.map((_, i) => i);
  for (const [k, [xs, label]] of [[C.params, "parameters"], [C.fpt, "training FLOPs per token"]].entries()) {
    const front = pareto(xs);
    plot({
      parent: cell[k], xlabel: label, xlog: true, ylabel: "validation loss (nats/token)", height: 300,
      yrange: [LOSS_RANGE[0] - (LOSS_RANGE[1] - LOSS_RANGE[0]) * 0.03, LOSS_RANGE[1]],
      series: [
        { x: xs, y: C.fitness, kind: "points", colors, idx },
        { x: front.map((i) => xs[i]), y: front.map((i) => C.fitness[i]), kind: "step", color: "#d62728", width: 1.5 },
        { x: front.map((i) => xs[i]), y: front.map((i) => C.fitness[i]), kind: "points", color: "#d62728", r: 2.2, ring: "#d62728", idx: front },
      ],
      tip: (i) => tipOf(i) + " — " + si(xs[i]) + " " + label, click: show,
      caption: "loss against " + label + "; Pareto front: " + front.length + " candidates",
    });
  }
  const F = D.front;
  b.append(el("p", { text: "The front by validation loss and " + F.second_objective.replace(/_/g, " ") + ": " + F.front.length + " of " + F.candidates + " candidates trained to the full budget, cheapest first (primer top --pareto)." }));
  const t = el("table", { class: "front" });
  t.append(el("tr", {}, ...["candidate", "birth", "val loss", "bits/B", "parameters", "FLOPs/byte", "mutation"].map((h) => el("th", { class: h === "mutation" ? "l" : "", text: h }))));
  for (const r of F.front.slice(0, 30)) {
    const cells = [String(r.candidate), String(r.birth), fmt(r.fitness), fmt(r.bits_per_byte), si(r.parameters), si(r.flops_per_byte)];
    t.append(el("tr", {}, ...cells.map((x) => el("td", { text: x })), el("td", { class: "l", text: r.description || "" })));
  }
  b.append(t);
  drawn("cost");
}

// ---- 4. hurdles ----------------------------------------------------------------------
function drawHurdles() {
  const b = document.querySelector("#hurdles .body");
  const H = D.hurdles;
  if (!H.fractions.length) {
    b.append(el("p", { class: "muted", text: "This campaign has no hurdles: every candidate trains to the full budget." }));
  } else {
    const t = el("table", {}, el("tr", {}, ...["hurdle", "at budget", "reached", "median loss there", "passed", ""].map((x) => el("th", { text: x }))));
    const maxR = Math.max(1, ...H.reached);
    H.fractions.forEach((f, k) => {
      t.append(el("tr", {},
        el("td", { text: "" + (k + 1) }), el("td", { text: (100 * f).toFixed(0) + "%" }),
        el("td", { text: "" + H.reached[k] }), el("td", { text: fmt(H.medians[k]) }),
        el("td", { text: "" + H.passed[k] }),
        el("td", { class: "l" }, el("span", { class: "bar", style: "width:" + (160 * H.reached[k] / maxR).toFixed(1) + "px" }), " ",
          el("span", { class: "bar good", style: "width:" + (160 * H.passed[k] / maxR).toFixed(1) + "px" }))));
    });
    b.append(t);
    const saved = H.flops_if_all_full > 0 ? H.flops_if_all_full / Math.max(H.flops_spent, 1) : 1;
    b.append(el("div", { class: "stats" },
      stat(si(H.flops_spent), "training FLOPs spent"),
      stat(si(H.flops_if_all_full), "had every one trained to the end"),
      stat(saved.toFixed(2) + "x", "saved by the hurdles")));
  }
  drawn("hurdles");
}

// ---- 5. mutations --------------------------------------------------------------------
function useTable(rows, title) {
  const t = el("table", {}, el("tr", {}, ...[title, "proposed", "survived the hurdles", "improved on its parent", ""].map((x, i) => el("th", { class: i === 0 ? "l" : "", text: x }))));
  const maxP = Math.max(1, ...rows.map((r) => r.proposed));
  for (const r of rows) {
    t.append(el("tr", {},
      el("td", { class: "l", text: r.what }), el("td", { text: "" + r.proposed }),
      el("td", { text: r.survived + (r.proposed ? " (" + (100 * r.survived / r.proposed).toFixed(0) + "%)" : "") }),
      el("td", { text: r.improved + (r.proposed ? " (" + (100 * r.improved / r.proposed).toFixed(0) + "%)" : "") }),
      el("td", { class: "l" }, el("span", { class: "bar", style: "width:" + (140 * r.proposed / maxP).toFixed(1) + "px" }), " ",
        el("span", { class: "bar good", style: "width:" + (140 * r.improved / maxP).toFixed(1) + "px" }))));
  }
  return t;
}
function drawMutations() {
  const b = document.querySelector("#mutations .body");
  const a = D.analysis;
  if (!a) {
    b.append(el("p", { class: "muted", text: "No analysis: the campaign's programs could not be read." }));
  } else {
    const grid = el("div", { class: "grid" });
    grid.append(el("div", {}, el("h3", { text: "By mutation kind" }), useTable(a.mutation_kinds, "kind")));
    grid.append(el("div", {}, el("h3", { text: "By op inserted or deleted" }), useTable(a.ops.slice(0, 40), "op")));
    b.append(grid);
  }
  drawn("mutations");
}

// ---- 6. the top 20 -------------------------------------------------------------------
function drawTop() {
  const b = document.querySelector("#best .body");
  if (!D.top.length) { b.append(el("p", { class: "muted", text: "No candidate has a loss yet." })); drawn("best"); return; }
  const palette = ["#2660c9", "#d62728", "#1f8a4c", "#e67e22", "#8e44ad", "#17becf", "#7f7f7f", "#bcbd22", "#8c564b", "#e377c2"];
  const t = el("table", {}, el("tr", {}, ...["#", "candidate", "birth", "loss", "bits/byte", "outcome", "steps", "parameters", "mutation"].map((x, i) => el("th", { class: i === 8 ? "l" : "", text: x }))));
  D.top.forEach((r, k) => {
    const i = INDEX.get(r.candidate);
    t.append(el("tr", { class: "click", onclick: () => show(i) },
      el("td", {}, el("i", { style: "display:inline-block;width:9px;height:9px;border-radius:5px;background:" + palette[k % palette.length] }), " " + r.rank),
      el("td", { text: "" + r.candidate }), el("td", { text: "" + r.birth }), el("td", { text: fmt(r.fitness) }),
      el("td", { text: fmt(r.bits_per_byte) }), el("td", { text: r.outcome }), el("td", { text: "" + r.steps }),
      el("td", { text: si(r.params) }),
      el("td", { class: "l", title: r.description, text: r.description.length > 110 ? r.description.slice(0, 107) + "..." : r.description })));
  });
  b.append(t);
  const curves = el("div", { style: "margin-top:12px" });
  b.append(curves);
  const series = D.top.map((r, k) => ({ x: r.curve.map((p) => p[0]), y: r.curve.map((p) => p[2]), kind: "line", color: palette[k % palette.length], width: 1.4, idx: r.curve.map(() => INDEX.get(r.candidate)) }));
  const ys = D.top.flatMap((r) => r.curve.map((p) => p[2])).filter(isFinite).sort((x, y) => x - y);
  plot({ parent: curves, xlabel: "training FLOPs", xlog: true, ylabel: "validation loss (nats/token)", height: 340, series,
    yrange: ys.length ? [ys[0] - 0.02, quantile(ys, 0.98) + 0.02] : undefined,
    tip: tipOf, click: show, caption: "learning curves of the top 20, overlaid" });
  b.append(el("h3", { text: "Against their seeds (primer diff)" }));
  D.top.forEach((r, k) => {
    b.append(el("details", k === 0 ? { open: "" } : {}, el("summary", { text: "#" + r.rank + ": candidate " + r.candidate + ", loss " + fmt(r.fitness) }), el("pre", { text: r.diff })));
  });
  drawn("best");
}

// ---- 7. the lineage of the best ------------------------------------------------------
function drawLineage() {
  const b = document.querySelector("#lineage .body");
  const L = D.lineage;
  if (!L.length) { b.append(el("p", { class: "muted", text: "No best candidate yet." })); drawn("lineage"); return; }
  const NS = "http://www.w3.org/2000/svg";
  const step = 44, W = 1100, x = 40;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", 30 + step * (L.length - 1) + 30);
  svg.setAttribute("viewBox", "0 0 " + W + " " + (30 + step * (L.length - 1) + 30));
  const mk = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
  const losses = L.map((n) => n.fitness).filter((f) => f !== null);
  const lo = Math.min(...losses), hi = Math.max(...losses);
  L.forEach((n, k) => {
    const y = 24 + k * step;
    if (k > 0) {
      svg.append(mk("line", { x1: x, y1: y - step + 9, x2: x, y2: y - 9, stroke: "#9aa3b5", "stroke-width": 2 }));
      const t = mk("text", { x: x + 16, y: y - step / 2 + 4, fill: "#5b6476" });
      t.textContent = "↓ " + n.mutation;
      svg.append(t);
    }
    const g = mk("g", { class: "node" });
    const shade = n.fitness === null || hi === lo ? 0.5 : (n.fitness - lo) / (hi - lo);
    g.append(mk("circle", { cx: x, cy: y, r: 8, fill: "hsl(" + (120 * (1 - shade)).toFixed(0) + ",55%,45%)", stroke: "#1d2330", "stroke-width": 1 }));
    const label = mk("text", { x: x + 16, y: y + 4, "font-weight": 600 });
    label.textContent = (k === 0 ? "seed: " : "") + "candidate " + n.candidate + " (birth " + n.birth + "), loss " + fmt(n.fitness) + (n.outcome ? ", " + n.outcome : "");
    g.append(label);
    g.addEventListener("click", () => show(INDEX.get(n.candidate)));
    svg.append(g);
  });
  b.append(el("p", { class: "muted", text: L.length + " generations from the seed to the best; each edge is the mutation that made the next; click a node for its program." }));
  b.append(el("div", { style: "overflow-x:auto" }, svg));
  drawn("lineage");
}

// ---- 8. Primer's motifs --------------------------------------------------------------
function drawMotifs() {
  const b = document.querySelector("#motifs .body");
  const a = D.analysis;
  if (!a) { b.append(el("p", { class: "muted", text: "No analysis: the campaign's programs could not be read." })); drawn("motifs"); return; }
  const t = el("table", {}, el("tr", {}, ...["motif", "first proposed (birth)", "candidates with it", "introduced", "passed hurdles", "best rank", "in the top " + a.k, "share of the population over the campaign"].map((x, i) => el("th", { class: i === 0 ? "l" : "", text: x }))));
  for (const m of a.motifs) {
    const spark = el("canvas", { width: 220, height: 36, style: "width:220px;height:36px;border:0;cursor:default" });
    const ctx = spark.getContext("2d");
    const s = m.population_share;
    ctx.strokeStyle = "#2660c9"; ctx.lineWidth = 1.5; ctx.beginPath();
    s.forEach((v, k) => { const px = 4 + k * (212 / Math.max(1, s.length - 1)), py = 32 - 28 * v; if (k) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
    ctx.stroke();
    ctx.fillStyle = "#5b6476"; ctx.font = "10px system-ui"; ctx.fillText((100 * (s[s.length - 1] || 0)).toFixed(0) + "% at the end", 130, 10);
    t.append(el("tr", {},
      el("td", { class: "l" }, el("b", { text: m.motif }), el("br"), el("span", { class: "muted", text: m.meaning + (m.in_seed ? " (in the seed)" : "") })),
      el("td", { text: m.first_birth === null ? "never" : "" + m.first_birth }),
      el("td", { text: "" + m.candidates }), el("td", { text: "" + m.introduced }),
      el("td", { text: m.passed.join(" / ") }),
      el("td", { text: m.best_rank === null ? "–" : "" + m.best_rank }),
      el("td", { text: m.in_top_k ? "yes" : "no" }),
      el("td", { class: "l" }, spark)));
  }
  b.append(t);
  drawn("motifs");
}

// ---- draw everything, then say so ----------------------------------------------------
const SECTIONS = [["header", drawHeader], ["progress", drawProgress], ["cost", drawCost], ["hurdles", drawHurdles], ["mutations", drawMutations], ["best", drawTop], ["lineage", drawLineage], ["motifs", drawMotifs]];
let failed = 0;
for (const [id, draw] of SECTIONS) {
  try {
    draw();
  } catch (e) {
    failed++;
    document.getElementById(id).dataset.drawn = "error";
    console.error("section " + id + ": " + (e && e.stack ? e.stack : e));
  }
}
// Milliseconds since the page started loading (performance.now counts from navigation).
window.__ready_ms = performance.now();
document.body.dataset.readyMs = window.__ready_ms.toFixed(0);
document.title = (failed ? "failed: " : "ready: ") + D.campaign.name;

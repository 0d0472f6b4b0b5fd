// timeline.html: draws braid's timeline from the JSON in #braid-data (see timeline/html.rs
// for its layout). Plain script, no libraries, nothing fetched.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("braid-data").textContent);
  const AXIS_H = 24;
  const COLORS = {
    txn: [["#cfe8cf", "#4a9a4a"], ["#e4e4e4", "#9a9a9a"], ["#f6e0b5", "#c28a1e"], ["#dde6f5", "#5577aa"]],
    op: ["#2b2b2b", "#d32f2f", "#e65100", "#1565c0", "#c9a0a0"],
    io: ["#90a4ae", "#d32f2f", "#f57c00", "#f9a825", "#c2185b", "#7b1fa2", "#b71c1c", "#ff6f00", "#9e9e9e", "#43a047"],
  };
  const TXN_OUTCOME = ["committed", "aborted", "in doubt", "still open when the timeline ends"];
  const OP_STATUS = ["ok", "failed", "never answered (cut off by a crash)", "not answered when the timeline ends", "busy"];
  const IO_CODES = ["ok", "error", "short", "latency", "group-fail", "group-cancel", "lost at crash", "torn at crash", "dropped at crash", "survived crash"];
  const NEMESIS = ["crash", "recovered", "bit flip", "note", "FAILURE", "crash fates"];

  // Decisions of every line (delta-encoded in the data).
  const steps = new Array(D.step_deltas.length);
  let at = 0;
  for (let i = 0; i < steps.length; i++) { at += D.step_deltas[i]; steps[i] = at; }
  const line = (ev) => ev < 0 ? null : "step " + steps[ev] + " " + D.lines[ev];

  const lanes = D.lanes;
  const laneY = [];
  let totalH = AXIS_H;
  for (const lane of lanes) { laneY.push(totalH); totalH += lane.height; }
  const nemesisLane = lanes.length - 1;

  const main = document.getElementById("main");
  const overview = document.getElementById("overview");
  const tooltip = document.getElementById("tooltip");
  const details = document.getElementById("details");
  const range = document.getElementById("range");
  const ctx = main.getContext("2d");
  const octx = overview.getContext("2d");
  main.style.height = totalH + "px";

  const lastStep = D.last_step;
  const minStep = 0;
  const maxSpan = Math.max(lastStep + 2, 10);
  let v0 = 0, v1 = 1, width = 800, hits = [], pinned = null;

  function setView(a, b) {
    let span = Math.max(4, Math.min(b - a, maxSpan * 1.1));
    let mid = (a + b) / 2;
    a = mid - span / 2; b = mid + span / 2;
    if (a < minStep - span * 0.05) { b += minStep - span * 0.05 - a; a = minStep - span * 0.05; }
    if (b > lastStep + 1 + span * 0.05) { a -= b - (lastStep + 1 + span * 0.05); b = lastStep + 1 + span * 0.05; }
    v0 = a; v1 = b;
    draw();
  }
  const px = (step) => (step - v0) / (v1 - v0) * width;
  const stepAt = (x) => v0 + x / width * (v1 - v0);

  function initialView() {
    const span = Math.min(Math.max(lastStep - D.first_step + 1, 30), 250);
    const end = lastStep + 1 + span * 0.04;
    setView(end - span, end);
  }
  function failureView() {
    const f = D.failure ? D.failure.step : lastStep;
    setView(f - 110, f + 12);
  }

  function niceStep(span, pixels) {
    const raw = span / Math.max(1, pixels / 90);
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
    return Math.max(1, 10 * p);
  }

  function mark(x0, x1, y0, y1, kind, index) { hits.push([x0, x1, y0, y1, kind, index]); }

  // Labels in one lane never overlap: one that would is left out (hover still tells).
  let labelEnd = {};
  function label(lane, text, x, y, color) {
    const w = ctx.measureText(text).width;
    if (x < (labelEnd[lane] || -1e9) || x + w > width) return;
    ctx.fillStyle = color; ctx.fillText(text, x, y);
    labelEnd[lane] = x + w + 6;
  }

  function drawAxis(pxPerStep) {
    ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, width, AXIS_H);
    const tick = niceStep(v1 - v0, width);
    ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
    for (let s = Math.ceil(Math.max(v0, 0) / tick) * tick; s <= v1; s += tick) {
      const x = Math.round(px(s)) + 0.5;
      ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(x, AXIS_H); ctx.lineTo(x, totalH); ctx.stroke();
      ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(x, AXIS_H - 6); ctx.lineTo(x, AXIS_H); ctx.stroke();
      ctx.fillStyle = "#444"; ctx.fillText(String(s), x + 3, AXIS_H / 2);
    }
    ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(width, AXIS_H - 0.5); ctx.stroke();
    range.textContent = "decisions " + Math.max(0, Math.floor(v0)) + " to " + Math.min(lastStep, Math.ceil(v1)) +
      " (" + pxPerStep.toFixed(pxPerStep < 1 ? 3 : 1) + " px per decision)";
  }

  function drawLaneBackgrounds() {
    for (let l = 0; l < lanes.length; l++) {
      ctx.fillStyle = l % 2 ? "#fcfcfc" : "#fff";
      ctx.fillRect(0, laneY[l], width, lanes[l].height);
      ctx.strokeStyle = "#eee"; ctx.beginPath();
      ctx.moveTo(0, laneY[l] + lanes[l].height - 0.5); ctx.lineTo(width, laneY[l] + lanes[l].height - 0.5); ctx.stroke();
    }
  }

  // Before the detailed window only counts per slice exist: drawn as shading.
  function drawAggregate() {
    if (D.skipped_events === 0 || v0 >= D.first_step) return;
    const ov = D.overview, bucket = ov.bucket;
    const xEnd = Math.min(width, px(D.first_step));
    ctx.fillStyle = "rgba(120,130,150,0.08)"; ctx.fillRect(0, AXIS_H, xEnd, totalH - AXIS_H);
    const first = Math.max(0, Math.floor(v0 / bucket)), last = Math.min(ov.count[0].length - 1, Math.floor(D.first_step / bucket));
    for (let l = 0; l < lanes.length; l++) {
      let max = 1;
      for (const c of ov.count[l]) if (c > max) max = c;
      const y = laneY[l] + 3, h = lanes[l].height - 6;
      for (let b = first; b <= last; b++) {
        const c = ov.count[l][b];
        if (!c) continue;
        const x0 = px(b * bucket), x1 = Math.min(px((b + 1) * bucket), xEnd);
        if (x1 <= 0 || x0 >= xEnd) continue;
        ctx.fillStyle = "rgba(69,90,120," + (0.15 + 0.6 * c / max).toFixed(3) + ")";
        ctx.fillRect(x0, y, Math.max(1, x1 - x0 - 0.5), h);
        if (ov.bad[l][b]) {
          ctx.fillStyle = "rgba(211,47,47,0.85)";
          ctx.fillRect(x0, y + h - 4, Math.max(1, x1 - x0 - 0.5), 4);
        }
        mark(x0, x1, laneY[l], laneY[l] + lanes[l].height, "bucket", [l, b]);
      }
    }
    if (xEnd > 60) {
      ctx.fillStyle = "#556"; ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "top";
      ctx.fillText("counts only (long run): details start at decision " + D.first_step, 4, AXIS_H + 2);
    }
  }

  function drawCrashes() {
    for (let i = 0; i < D.crashes.length; i++) {
      const [c, r] = D.crashes[i];
      const end = r < 0 ? lastStep + 1 : r + 1;
      if (end < v0 || c > v1) continue;
      const x0 = px(c), x1 = px(end);
      ctx.fillStyle = "rgba(211,47,47,0.08)"; ctx.fillRect(x0, AXIS_H, Math.max(1, x1 - x0), totalH - AXIS_H);
      ctx.strokeStyle = "#d32f2f"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(x0, AXIS_H); ctx.lineTo(x0, totalH); ctx.stroke();
      ctx.lineWidth = 1;
      if (r >= 0) {
        ctx.strokeStyle = "#2e7d32"; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x1, AXIS_H); ctx.lineTo(x1, totalH); ctx.stroke(); ctx.setLineDash([]);
      }
    }
  }

  function drawTxns(pxPerStep) {
    ctx.font = "10px system-ui, sans-serif"; ctx.textBaseline = "middle";
    for (let i = 0; i < D.txns.length; i++) {
      const [l, b, e, process, outcome] = D.txns[i];
      const end = e < 0 ? lastStep : e;
      if (end + 1 < v0 || b > v1) continue;
      const x0 = px(b), x1 = px(end + 1), y = laneY[l] + 4, h = lanes[l].height - 8;
      const [fill, stroke] = COLORS.txn[outcome];
      ctx.fillStyle = fill; ctx.fillRect(x0, y, Math.max(1, x1 - x0), h);
      if (x1 - x0 > 3) {
        ctx.strokeStyle = stroke; if (outcome === 3) ctx.setLineDash([4, 3]);
        ctx.strokeRect(x0 + 0.5, y + 0.5, Math.max(1, x1 - x0 - 1), h - 1); ctx.setLineDash([]);
      }
      if (Math.min(x1, width) - Math.max(x0, 0) > 48) {
        ctx.fillStyle = "#555";
        ctx.fillText("conn " + process, Math.max(x0, 0) + 3, y + 5);
      }
      mark(x0, x1, y, y + h, "txn", i);
    }
  }

  function drawOps(pxPerStep) {
    const w = Math.max(2, Math.min(7, pxPerStep * 0.5));
    for (let i = 0; i < D.ops.length; i++) {
      const [l, a, e, , status] = D.ops[i];
      const end = e < 0 ? lastStep : e;
      if (end + 1 < v0 || a > v1) continue;
      const mid = laneY[l] + lanes[l].height / 2;
      const xa = px(a + 0.5), xe = px(end + 0.5);
      if (xe - xa > 2) {
        ctx.strokeStyle = status === 0 || status === 4 ? "rgba(40,40,40,0.45)" : COLORS.op[status];
        ctx.beginPath(); ctx.moveTo(xa, mid + 0.5); ctx.lineTo(xe, mid + 0.5); ctx.stroke();
      }
      ctx.fillStyle = COLORS.op[status];
      if (status === 3) {
        ctx.strokeStyle = COLORS.op[3]; ctx.strokeRect(xa - w / 2, mid - 5, w, 10);
        mark(xa - 4, xa + 4, mid - 7, mid + 7, "op", i);
      } else if (status === 2) {
        ctx.strokeStyle = COLORS.op[2]; ctx.lineWidth = 2; ctx.beginPath();
        ctx.moveTo(xe - 4, mid - 4); ctx.lineTo(xe + 4, mid + 4); ctx.moveTo(xe + 4, mid - 4); ctx.lineTo(xe - 4, mid + 4); ctx.stroke();
        ctx.lineWidth = 1;
        mark(Math.min(xa, xe - 4), xe + 4, mid - 7, mid + 7, "op", i);
      } else {
        const tall = status === 4 ? 8 : 12;
        ctx.fillRect(xe - w / 2, mid - tall / 2, w, tall);
        mark(Math.min(xa, xe - 4), xe + 4, mid - 7, mid + 7, "op", i);
      }
    }
  }

  function drawIo(pxPerStep) {
    ctx.font = "10px system-ui, sans-serif"; ctx.textBaseline = "middle";
    const w = Math.max(2, Math.min(6, pxPerStep * 0.5));
    for (let i = 0; i < D.io.length; i++) {
      const [l, sub, s, until, code, , group] = D.io[i];
      if (Math.max(s, until) + 1 < v0 || Math.min(sub, s) > v1) continue;
      const y = laneY[l], h = lanes[l].height, mid = y + h / 2;
      const x = px(s + 0.5), xs = px(sub + 0.5);
      if (x - xs > 2) {
        ctx.strokeStyle = "rgba(120,144,156,0.35)"; ctx.beginPath(); ctx.moveTo(xs, mid + 5.5); ctx.lineTo(x, mid + 5.5); ctx.stroke();
      }
      ctx.fillStyle = COLORS.io[code];
      if (code === 3) {
        const xu = px(until + 0.5);
        ctx.strokeStyle = COLORS.io[3]; ctx.setLineDash([3, 2]); ctx.beginPath(); ctx.moveTo(x, mid); ctx.lineTo(xu, mid); ctx.stroke(); ctx.setLineDash([]);
        ctx.beginPath(); ctx.arc(x, mid, Math.max(2.5, w / 2), 0, 2 * Math.PI); ctx.fill();
      } else if (code >= 6 && code <= 8) {
        ctx.strokeStyle = COLORS.io[code]; ctx.lineWidth = 2; ctx.beginPath();
        ctx.moveTo(x - 4, mid - 5); ctx.lineTo(x + 4, mid + 5); ctx.moveTo(x + 4, mid - 5); ctx.lineTo(x - 4, mid + 5); ctx.stroke();
        ctx.lineWidth = 1;
      } else {
        const tall = code === 0 ? 8 : 14;
        ctx.fillRect(x - w / 2, mid - tall / 2, w, tall);
      }
      if (pxPerStep >= 26 || (code !== 0 && code !== 9 && pxPerStep >= 6)) {
        let text = code === 0 ? "" : IO_CODES[code];
        if (group >= 0 && pxPerStep >= 26) text = (text ? text + " " : "") + D.groups[group];
        if (text) label(l, text, x + 5, mid - 7, code === 0 ? "#607d8b" : COLORS.io[code]);
      }
      mark(Math.min(x, xs) - 3, x + 4, y, y + h, "io", i);
    }
  }

  function drawNemesis(pxPerStep) {
    const l = nemesisLane, y = laneY[l], h = lanes[l].height, mid = y + h / 2;
    ctx.font = "10px system-ui, sans-serif"; ctx.textBaseline = "middle";
    for (let i = 0; i < D.nemesis.length; i++) {
      const [code, s] = D.nemesis[i];
      if (s + 1 < v0 || s > v1 || code === 5) continue;
      const x = px(s + 0.5);
      if (code === 0) {
        ctx.fillStyle = "#d32f2f"; ctx.beginPath(); ctx.moveTo(x, mid - 8); ctx.lineTo(x + 7, mid + 7); ctx.lineTo(x - 7, mid + 7); ctx.fill();
        label(l, "crash", x + 9, mid, "#d32f2f");
      } else if (code === 1) {
        ctx.fillStyle = "#2e7d32"; ctx.fillRect(x - 3, mid - 6, 6, 12);
        label(l, "recovered", x + 6, mid, "#2e7d32");
      } else if (code === 2) {
        ctx.fillStyle = "#6a1b9a"; ctx.beginPath(); ctx.moveTo(x, mid - 7); ctx.lineTo(x + 6, mid); ctx.lineTo(x, mid + 7); ctx.lineTo(x - 6, mid); ctx.fill();
      } else if (code === 4) {
        ctx.fillStyle = "#d32f2f"; ctx.fillRect(x - 6, mid - 6, 12, 12);
        const text = D.failure ? "FAILURE " + D.failure.kind : "FAILURE", tw = ctx.measureText(text).width;
        ctx.fillText(text, x + 9 + tw < width ? x + 9 : x - 9 - tw, mid);
        labelEnd[l] = x + 9 + tw;
      } else {
        ctx.fillStyle = "#777"; ctx.beginPath(); ctx.arc(x, mid, 3, 0, 2 * Math.PI); ctx.fill();
      }
      mark(x - 8, x + 8, y, y + h, "nemesis", i);
    }
  }

  function drawFailure() {
    const f = D.failure;
    if (!f) return;
    const x = px(f.step + 0.5);
    if (x < -20 || x > width + 20) return;
    ctx.strokeStyle = "#d32f2f"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, AXIS_H); ctx.lineTo(x, totalH); ctx.stroke(); ctx.setLineDash([]); ctx.lineWidth = 1;
    if (f.detected >= 0 && f.detected !== f.ev) {
      const seen = failingMark(f.detected);
      if (seen) {
        ctx.strokeStyle = "#d32f2f"; ctx.setLineDash([3, 3]); ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.arc(seen[0], seen[1], 9, 0, 2 * Math.PI); ctx.stroke();
        ctx.setLineDash([]); ctx.lineWidth = 1;
      }
    }
    if (f.ev >= 0) {
      const where = failingMark(f.ev);
      if (where) {
        ctx.strokeStyle = "#d32f2f"; ctx.lineWidth = 2.5;
        ctx.beginPath(); ctx.arc(where[0], where[1], 10, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1;
        ctx.font = "bold 11px system-ui, sans-serif"; ctx.textBaseline = "middle"; ctx.fillStyle = "#b71c1c";
        const text = f.message.length > 110 ? f.message.slice(0, 107) + "..." : f.message;
        const tw = ctx.measureText(text).width;
        const tx = Math.max(4, Math.min(where[0] - tw - 14, width - tw - 4));
        ctx.fillStyle = "rgba(255,245,245,0.92)"; ctx.fillRect(tx - 3, where[1] - 21, tw + 6, 15);
        ctx.fillStyle = "#b71c1c"; ctx.fillText(text, tx, where[1] - 13);
      }
    }
  }

  // Where the event the failure was detected at is drawn: an op's result, a transaction's
  // end, an I/O, or a nemesis mark.
  function failingMark(ev) {
    for (const op of D.ops) if (op[6] === ev) return [px(op[2] + 0.5), laneY[op[0]] + lanes[op[0]].height / 2];
    for (const t of D.txns) if (t[6] === ev) return [px(t[2] + 1), laneY[t[0]] + lanes[t[0]].height / 2];
    for (const io of D.io) if (io[5] === ev) return [px(io[2] + 0.5), laneY[io[0]] + lanes[io[0]].height / 2];
    for (const n of D.nemesis) if (n[3] === ev) return [px(n[1] + 0.5), laneY[nemesisLane] + lanes[nemesisLane].height / 2];
    return null;
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    width = Math.max(200, main.clientWidth);
    main.width = Math.round(width * dpr); main.height = Math.round(totalH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, totalH);
    hits = []; labelEnd = {};
    const pxPerStep = width / (v1 - v0);
    drawLaneBackgrounds();
    drawAxis(pxPerStep);
    drawAggregate();
    drawCrashes();
    drawTxns(pxPerStep);
    drawOps(pxPerStep);
    drawIo(pxPerStep);
    drawNemesis(pxPerStep);
    drawFailure();
    drawOverview();
  }

  function drawOverview() {
    const dpr = window.devicePixelRatio || 1;
    const ow = Math.max(200, overview.clientWidth), oh = 40;
    overview.width = Math.round(ow * dpr); overview.height = Math.round(oh * dpr);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.fillStyle = "#fff"; octx.fillRect(0, 0, ow, oh);
    const ov = D.overview, n = ov.count[0] ? ov.count[0].length : 0, total = lastStep + 1;
    const ox = (s) => s / total * ow;
    const rowH = Math.max(2, Math.floor((oh - 4) / lanes.length));
    for (let l = 0; l < lanes.length; l++) {
      let max = 1;
      for (const c of ov.count[l]) if (c > max) max = c;
      for (let b = 0; b < n; b++) {
        const c = ov.count[l][b];
        if (!c) continue;
        const x0 = ox(b * ov.bucket), x1 = ox((b + 1) * ov.bucket);
        octx.fillStyle = ov.bad[l][b] ? "rgba(211,47,47,0.9)" : "rgba(69,90,120," + (0.2 + 0.7 * c / max).toFixed(3) + ")";
        octx.fillRect(x0, 2 + l * rowH, Math.max(1, x1 - x0), rowH - 1);
      }
    }
    for (const [c] of D.crashes) { octx.fillStyle = "#d32f2f"; octx.fillRect(ox(c), 0, 1.5, oh); }
    if (D.skipped_events > 0) { octx.fillStyle = "rgba(120,130,150,0.15)"; octx.fillRect(0, 0, ox(D.first_step), oh); }
    if (D.failure) { octx.fillStyle = "#b71c1c"; octx.fillRect(ox(D.failure.step) - 1, 0, 2, oh); }
    octx.strokeStyle = "#1565c0"; octx.lineWidth = 2;
    const a = Math.max(0, ox(v0)), b = Math.min(ow, ox(v1));
    octx.strokeRect(a, 1, Math.max(3, b - a), oh - 2); octx.lineWidth = 1;
  }

  // What a mark is, in words: the timeline lines behind it.
  function describe(kind, index) {
    if (kind === "txn") {
      const [l, b, e, process, outcome, bev, eev] = D.txns[index];
      const out = ["conn " + process + " on " + lanes[l].name + ": a transaction, " + TXN_OUTCOME[outcome],
        "decisions " + b + " to " + (e < 0 ? "the end" : e)];
      if (bev >= 0) out.push(line(bev)); else out.push("(began at decision " + b + ", before the detailed part)");
      if (eev >= 0) out.push(line(eev));
      return [out, bev >= 0 ? bev : eev];
    }
    if (kind === "op") {
      const [l, a, e, process, status, iev, rev] = D.ops[index];
      const out = ["conn " + process + " on " + lanes[l].name + ": an op, " + OP_STATUS[status] +
        (e >= 0 && e !== a ? " after " + (e - a) + " decisions" : "")];
      if (iev >= 0) out.push(line(iev)); else out.push("(invoked at decision " + a + ", before the detailed part)");
      if (rev >= 0) out.push(line(rev));
      if (D.failure && rev >= 0 && rev === D.failure.ev) out.push("", "FAILURE " + D.failure.kind + ": " + D.failure.message);
      return [out, rev >= 0 ? rev : iev];
    }
    if (kind === "io") {
      const [l, sub, s, , code, ev] = D.io[index];
      const out = [lanes[l].name + ": " + IO_CODES[code] + (code < 6 ? ", submitted at decision " + sub : ""), line(ev)];
      return [out, ev];
    }
    if (kind === "nemesis") {
      const [code, s, e, ev] = D.nemesis[index];
      const out = [NEMESIS[code] + (code === 0 && e >= 0 ? ", recovered at decision " + e : "")];
      for (let i = ev; i < D.lines.length && steps[i] === s && out.length < 16; i++) out.push(line(i));
      if (code === 4 && D.failure) out.push("", D.failure.message);
      return [out, ev];
    }
    const [l, b] = index;
    const ov = D.overview;
    return [[lanes[l].name + ", decisions " + b * ov.bucket + " to " + ((b + 1) * ov.bucket - 1) + " (before the detailed part):",
      ov.count[l][b] + " events, " + ov.bad[l][b] + " failed ops or faults"], -1];
  }

  function hitAt(x, y) {
    for (let i = hits.length - 1; i >= 0; i--) {
      const h = hits[i];
      if (x >= h[0] && x <= h[1] && y >= h[2] && y <= h[3]) return h;
    }
    return null;
  }

  function pin(kind, index) {
    const [text, ev] = describe(kind, index);
    pinned = [kind, index];
    const h2 = document.createElement("h2");
    h2.textContent = text[0];
    const pre = document.createElement("pre");
    const own = new Set(text.slice(1));
    if (ev >= 0) {
      const from = Math.max(0, ev - 12), to = Math.min(D.lines.length, ev + 24);
      for (let i = from; i < to; i++) {
        const l = line(i);
        const node = own.has(l) ? document.createElement("b") : document.createTextNode(l);
        if (own.has(l)) node.textContent = l;
        pre.appendChild(node); pre.appendChild(document.createTextNode("\n"));
      }
    } else {
      pre.textContent = text.slice(1).join("\n");
    }
    details.replaceChildren(h2, pre);
  }

  // Interaction: hover, click, wheel zoom, drag pan, keys, the overview strip.
  let drag = null;
  main.addEventListener("mousemove", (e) => {
    const r = main.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    if (drag) {
      const d = (drag.x - x) / width * (drag.v1 - drag.v0);
      if (Math.abs(drag.x - x) > 2) drag.moved = true;
      setView(drag.v0 + d, drag.v1 + d);
      return;
    }
    const h = hitAt(x, y);
    if (!h) { tooltip.style.display = "none"; return; }
    tooltip.textContent = describe(h[4], h[5])[0].join("\n");
    tooltip.style.display = "block";
    const tx = Math.min(e.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
    tooltip.style.left = Math.max(4, tx) + "px"; tooltip.style.top = (e.clientY + 16) + "px";
  });
  main.addEventListener("mouseleave", () => { tooltip.style.display = "none"; drag = null; });
  main.addEventListener("mousedown", (e) => {
    const r = main.getBoundingClientRect();
    drag = { x: e.clientX - r.left, v0: v0, v1: v1, moved: false };
  });
  main.addEventListener("mouseup", (e) => {
    const moved = drag && drag.moved;
    drag = null;
    if (moved) return;
    const r = main.getBoundingClientRect();
    const h = hitAt(e.clientX - r.left, e.clientY - r.top);
    if (h) pin(h[4], h[5]);
  });
  main.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = main.getBoundingClientRect(), s = stepAt(e.clientX - r.left);
    const f = e.deltaY > 0 ? 1.25 : 0.8;
    setView(s - (s - v0) * f, s + (v1 - s) * f);
  }, { passive: false });
  function zoom(f) { const m = (v0 + v1) / 2; setView(m - (m - v0) * f, m + (v1 - m) * f); }
  document.getElementById("zoom-in").onclick = () => zoom(0.5);
  document.getElementById("zoom-out").onclick = () => zoom(2);
  document.getElementById("fit").onclick = () => setView(-1, lastStep + 2);
  document.getElementById("fit-window").onclick = () => setView(D.first_step - 1, lastStep + 2);
  const gf = document.getElementById("goto-failure");
  if (gf) gf.onclick = () => { failureView(); if (D.failure && D.failure.ev >= 0) pinFailure(); };
  document.addEventListener("keydown", (e) => {
    if (e.target && e.target.tagName === "INPUT") return;
    const span = v1 - v0;
    if (e.key === "+" || e.key === "=") zoom(0.5);
    else if (e.key === "-") zoom(2);
    else if (e.key === "ArrowLeft") setView(v0 - span * 0.2, v1 - span * 0.2);
    else if (e.key === "ArrowRight") setView(v0 + span * 0.2, v1 + span * 0.2);
    else if (e.key === "f") failureView();
  });
  function overviewMove(e) {
    const r = overview.getBoundingClientRect();
    const s = (e.clientX - r.left) / r.width * (lastStep + 1), half = (v1 - v0) / 2;
    setView(s - half, s + half);
  }
  let overviewDrag = false;
  overview.addEventListener("mousedown", (e) => { overviewDrag = true; overviewMove(e); });
  overview.addEventListener("mousemove", (e) => { if (overviewDrag) overviewMove(e); });
  window.addEventListener("mouseup", () => { overviewDrag = false; });
  window.addEventListener("resize", draw);

  function pinFailure() {
    const ev = D.failure.ev;
    const kinds = [["op", D.ops, 6], ["txn", D.txns, 6], ["io", D.io, 5], ["nemesis", D.nemesis, 3]];
    for (const [kind, items, field] of kinds) {
      const i = items.findIndex((item) => item[field] === ev);
      if (i >= 0) { pin(kind, i); return; }
    }
  }

  // The view can be given in the address: timeline.html#view=FROM-TO (decisions).
  const asked = /view=(-?\d+)-(-?\d+)/.exec(window.location.hash);
  if (asked && Number(asked[2]) > Number(asked[1])) setView(Number(asked[1]), Number(asked[2]) + 1);
  else initialView();
  if (D.failure && D.failure.ev >= 0) pinFailure();
})();

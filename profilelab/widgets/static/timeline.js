// profilelab timeline: sample density per lane over time, a brush, one lane's flame chart.
//
// Appended to flame.js by profilelab/widgets/timeline.py (decodePayload, formatValue, el come
// from there). Times are nanoseconds relative to the density's start. Lane and function
// names are untrusted: only drawn with fillText or assigned with textContent.

const TL_LANE = 26;
const TL_GUTTER = 150;
const TL_AXIS = 22;
const TL_ROW = 16;
const TL_FONT = "12px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";
const TL_STEPS = [1, 2, 5];

export function formatDuration(ns) {
  if (ns === 0) return "0";
  const a = Math.abs(ns);
  const scales = [[3600e9, "h"], [60e9, "min"], [1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  for (const [f, u] of scales) if (a >= f || f === 1) return `${+(ns / f).toPrecision(3)} ${u}`;
  return `${ns} ns`;
}

function niceStep(span, target) {
  const raw = span / Math.max(target, 1);
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const s of TL_STEPS) if (s * mag >= raw) return s * mag;
  return 10 * mag;
}

function hue(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

class TimelineApp {
  constructor(container, host) {
    this.host = host;
    this.root = el("div", "plf-root plf-tl");
    const bar = el("div", "plf-tl-bar");
    this.keySelect = el("select", "plf-tl-key");
    this.keySelect.addEventListener("change", () => host.laneKey(this.keySelect.value));
    const keyField = el("label", "plf-tl-field", "lanes by ");
    keyField.appendChild(this.keySelect);
    this.info = el("span", "plf-tl-info");
    this.rangeText = el("span", "plf-tl-range");
    this.clear = el("button", "plf-tl-clear", "whole profile");
    this.clear.addEventListener("click", () => host.brushed([]));
    bar.append(keyField, this.info, this.rangeText, this.clear);
    this.bar = bar;
    this.message = el("div", "plf-tl-message");
    this.error = el("div", "plf-error");
    this.canvas = el("canvas", "plf-tl-canvas");
    this.chartTitle = el("div", "plf-tl-chart-title");
    this.chartCanvas = el("canvas", "plf-tl-chart");
    this.hover = el("div", "plf-tl-hover");
    this.root.append(bar, this.message, this.error, this.canvas, this.chartTitle, this.chartCanvas, this.hover);
    container.appendChild(this.root);
    this.dens = null;
    this.chart = null;
    this.brush = [];
    this.drag = null;
    this.bindMouse();
    this.resizer = new ResizeObserver(() => this.draw());
    this.resizer.observe(this.root);
    window.__plt = window.__plt || [];
    window.__plt.push(this);
  }

  // ---- geometry -------------------------------------------------------------------------
  cssWidth() {
    return Math.max(this.root.getBoundingClientRect().width || 0, 320);
  }
  plotWidth() {
    return this.cssWidth() - TL_GUTTER;
  }
  span() {
    return this.dens ? this.dens.meta.span_ns : 1;
  }
  xOfT(t) {
    return TL_GUTTER + (t / this.span()) * this.plotWidth();
  }
  tOfX(x) {
    const t = ((x - TL_GUTTER) / this.plotWidth()) * this.span();
    return Math.min(Math.max(t, 0), this.span());
  }

  // ---- data -------------------------------------------------------------------------------
  setKeys(keys, current) {
    this.keySelect.textContent = "";
    const opts = [["", "thread (default)"], ...keys.map((k) => [k, k])];
    for (const [value, text] of opts) {
      const o = el("option", "", text);
      o.value = value;
      this.keySelect.appendChild(o);
    }
    this.keySelect.value = current || "";
  }
  setDensity(payload) {
    this.dens = payload;
    const m = payload.meta;
    this.info.textContent = `${m.sample_type} from ${m.start_iso} over ${formatDuration(m.span_ns)}`;
    this.draw();
  }
  setChart(payload) {
    this.chart = payload;
    this.chartDrawnAt = 0;
    this.drawChart();
  }
  setBrush(brush) {
    this.brush = brush.length === 2 ? brush : [];
    this.rangeText.textContent = this.brush.length
      ? `range ${formatDuration(this.brush[0])} to ${formatDuration(this.brush[1])} (${formatDuration(this.brush[1] - this.brush[0])})`
      : "drag across the lanes to choose a range";
    this.clear.disabled = !this.brush.length;
    this.draw();
  }
  setMessage(text) {
    this.message.textContent = text || "";
    this.message.style.display = text ? "" : "none";
    this.canvas.style.display = text ? "none" : "";
    this.bar.style.display = text ? "none" : ""; // no lanes: nothing to choose or brush
  }

  // ---- drawing ----------------------------------------------------------------------------
  prepare(canvas, h) {
    const w = this.cssWidth();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(this.root);
    const colours = {
      bg: css.getPropertyValue("--plf-bg").trim() || "#fff",
      fg: css.getPropertyValue("--plf-fg").trim() || "#1f2328",
      muted: css.getPropertyValue("--plf-muted").trim() || "#656d76",
      accent: css.getPropertyValue("--plf-accent").trim() || "#0969da",
      border: css.getPropertyValue("--plf-border").trim() || "#d0d7de",
    };
    ctx.fillStyle = colours.bg;
    ctx.fillRect(0, 0, w, h);
    ctx.font = TL_FONT;
    ctx.textBaseline = "middle";
    return { ctx, w, colours };
  }

  draw() {
    if (!this.dens) return;
    const { meta, arrays, strings } = this.dens;
    const lanes = meta.lanes;
    const bins = meta.bins;
    const h = lanes * TL_LANE + TL_AXIS;
    const { ctx, w, colours } = this.prepare(this.canvas, h);
    let max = 0;
    for (const v of arrays.values) max = Math.max(max, Math.abs(v));
    const bw = this.plotWidth() / Math.max(bins, 1);
    for (let lane = 0; lane < lanes; lane++) {
      const y0 = lane * TL_LANE;
      ctx.fillStyle = lane % 2 ? colours.bg : "rgba(127,127,127,0.06)";
      ctx.fillRect(0, y0, w, TL_LANE);
      ctx.fillStyle = colours.fg;
      ctx.fillText(this.fit(ctx, strings[lane], TL_GUTTER - 10), 6, y0 + TL_LANE / 2);
      ctx.fillStyle = colours.accent;
      for (let b = 0; b < bins; b++) {
        const v = arrays.values[lane * bins + b];
        if (!v) continue;
        const bh = Math.max(1, (Math.abs(v) / max) * (TL_LANE - 4));
        ctx.fillRect(TL_GUTTER + b * bw, y0 + TL_LANE - 2 - bh, Math.max(bw - 0.5, 0.5), bh);
      }
    }
    this.drawAxis(ctx, lanes * TL_LANE, colours);
    this.drawBrush(ctx, lanes * TL_LANE);
    window.__pltFirstPaint = window.__pltFirstPaint || performance.now();
    if (!this.chartDrawnAt || this.chartDrawnAt !== this.cssWidth()) this.drawChart();
  }

  drawAxis(ctx, y, colours) {
    const span = this.span();
    const step = niceStep(span, this.plotWidth() / 110);
    ctx.strokeStyle = colours.border;
    ctx.beginPath();
    ctx.moveTo(TL_GUTTER, y + 0.5);
    ctx.lineTo(this.cssWidth(), y + 0.5);
    ctx.stroke();
    ctx.fillStyle = colours.muted;
    for (let t = 0; t <= span; t += step) {
      const x = this.xOfT(t);
      ctx.fillRect(x, y, 1, 4);
      ctx.fillText(formatDuration(t), Math.min(x + 2, this.cssWidth() - 60), y + 13);
    }
  }

  drawBrush(ctx, h) {
    const range = this.drag ? [Math.min(this.drag.a, this.drag.b), Math.max(this.drag.a, this.drag.b)] : this.brush;
    if (range.length !== 2) return;
    const x0 = this.xOfT(range[0]);
    const x1 = this.xOfT(range[1]);
    ctx.fillStyle = "rgba(127,127,127,0.35)";
    ctx.fillRect(TL_GUTTER, 0, x0 - TL_GUTTER, h);
    ctx.fillRect(x1, 0, this.cssWidth() - x1, h);
    ctx.strokeStyle = "rgba(9,105,218,0.9)";
    ctx.strokeRect(x0 + 0.5, 0.5, Math.max(x1 - x0 - 1, 1), h - 1);
  }

  drawChart() {
    const c = this.chart;
    if (!c || !this.dens) {
      this.chartCanvas.style.display = "none";
      this.chartTitle.textContent = this.dens ? "click a lane name for its stacks in time order" : "";
      return;
    }
    this.chartCanvas.style.display = "";
    const { arrays, strings, meta } = c;
    const n = arrays.depth.length;
    let rows = 0;
    for (let i = 0; i < n; i++) rows = Math.max(rows, arrays.depth[i] + 1);
    const dropped = meta.dropped ? `, ${meta.dropped} rectangles too narrow to draw` : "";
    const lod = meta.lod
      ? `; ${meta.sample_count} samples, about ${+meta.lod.toPrecision(2)} per pixel: each pixel shows the stack running at its middle, brush a shorter range for every sample`
      : "";
    const range = `${formatDuration(meta.lo)} to ${formatDuration(meta.hi)}`;
    this.chartTitle.textContent = `${meta.lane}: stacks in time order, ${range} (${n} rectangles${dropped}${lod})`;
    const { ctx, w, colours } = this.prepare(this.chartCanvas, Math.max(rows, 1) * TL_ROW);
    this.chartDrawnAt = w;
    // the chart's own range (it may arrive before or after the brush that asked for it)
    const [lo, hi] = [meta.lo, meta.hi];
    const scale = w / Math.max(hi - lo, 1);
    this.chartGeom = { lo, scale };
    // One fill per function name (its colour), labels after: tens of thousands of
    // rectangles draw in a few frames. Per-name colour and label width are computed once.
    const style = this.chartStyle(c, ctx);
    const byName = new Map();
    const labelled = [];
    for (let i = 0; i < n; i++) {
      const x = (arrays.start[i] - lo) * scale;
      const rw = (arrays.end[i] - arrays.start[i]) * scale;
      if (x + rw < 0 || x > w) continue;
      const k = arrays.name[i];
      let list = byName.get(k);
      if (!list) byName.set(k, (list = []));
      list.push(i);
      if (rw > 30) labelled.push(i);
    }
    for (const [k, list] of byName) {
      ctx.fillStyle = style.colour[k];
      ctx.beginPath();
      for (const i of list) {
        const x = (arrays.start[i] - lo) * scale;
        const rw = (arrays.end[i] - arrays.start[i]) * scale;
        ctx.rect(x, arrays.depth[i] * TL_ROW, Math.max(rw - 0.5, 0.5), TL_ROW - 1);
      }
      ctx.fill();
    }
    ctx.fillStyle = "#1f2328";
    for (const i of labelled) {
      const x = Math.max((arrays.start[i] - lo) * scale, 0);
      const right = Math.min((arrays.end[i] - lo) * scale, w);
      const label = this.fitKnown(ctx, strings[arrays.name[i]], style.width[arrays.name[i]], right - x - 6);
      if (label) ctx.fillText(label, x + 3, arrays.depth[i] * TL_ROW + TL_ROW / 2);
    }
    ctx.fillStyle = colours.fg;
  }

  chartStyle(c, ctx) {
    if (c.style) return c.style;
    const colour = [];
    const width = [];
    for (const name of c.strings) {
      const h = hue(name);
      colour.push(`hsl(${(h % 50) + 10}, 75%, ${62 + (h % 13)}%)`);
      width.push(ctx.measureText(name).width);
    }
    return (c.style = { colour, width });
  }

  fitKnown(ctx, text, full, width) {
    // the whole name when it fits, else a prefix scaled to the room and checked once
    if (full <= width) return text;
    if (width < 12) return "";
    const keep = Math.floor((text.length * width) / full) - 1;
    const cut = keep > 0 ? text.slice(0, keep) + "…" : "";
    return cut && ctx.measureText(cut).width <= width ? cut : this.fit(ctx, text, width);
  }

  fit(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid;
      else hi = mid - 1;
    }
    return lo ? text.slice(0, lo) + "…" : "";
  }

  // ---- mouse ------------------------------------------------------------------------------
  bindMouse() {
    const pos = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    this.canvas.addEventListener("mousedown", (e) => {
      if (!this.dens) return;
      const [x, y] = pos(e);
      if (x < TL_GUTTER) {
        const lane = Math.floor(y / TL_LANE);
        if (lane < this.dens.meta.lanes) this.host.chartLane(this.dens.strings[lane]);
        return;
      }
      this.drag = { a: this.tOfX(x), b: this.tOfX(x), x0: x };
      e.preventDefault();
    });
    window.addEventListener("mousemove", (e) => {
      if (!this.drag) return;
      this.drag.b = this.tOfX(pos(e)[0]);
      this.draw();
    });
    window.addEventListener("mouseup", (e) => {
      if (!this.drag) return;
      const d = this.drag;
      this.drag = null;
      const moved = Math.abs(pos(e)[0] - d.x0) >= 3;
      this.host.brushed(moved ? [Math.min(d.a, d.b), Math.max(d.a, d.b)] : []);
    });
    this.chartCanvas.addEventListener("mousemove", (e) => {
      const c = this.chart;
      if (!c || !this.chartGeom) return;
      const r = this.chartCanvas.getBoundingClientRect();
      const t = (e.clientX - r.left) / this.chartGeom.scale + this.chartGeom.lo;
      const depth = Math.floor((e.clientY - r.top) / TL_ROW);
      const a = c.arrays;
      for (let i = 0; i < a.depth.length; i++) {
        if (a.depth[i] === depth && a.start[i] <= t && t < a.end[i]) {
          const unit = this.dens.meta.unit;
          const counts = c.meta.lod ? "" : `, ${a.samples[i]} samples, ${formatValue(a.value[i], unit)}`;
          this.hover.textContent = `${c.strings[a.name[i]]}: ${formatDuration(a.end[i] - a.start[i])}${counts}`;
          return;
        }
      }
      this.hover.textContent = "";
    });
  }
}

function renderTimeline({ model, el: container }) {
  const save = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const app = new TimelineApp(container, {
    brushed: (range) => save("_brush", range),
    laneKey: (key) => save("lane_key", key),
    chartLane: (lane) => save("chart_lane", lane),
  });
  const load = (name, apply) => () => {
    const buf = model.get(name);
    if (buf && buf.byteLength) apply(decodePayload(buf));
    else if (name === "_chart") app.setChart(null);
  };
  const density = load("_density", (p) => app.setDensity(p));
  const chart = load("_chart", (p) => app.setChart(p));
  const message = () => app.setMessage(model.get("message"));
  const error = () => (app.error.textContent = model.get("error") || "");
  const keys = () => app.setKeys(model.get("lane_keys") || [], model.get("lane_key"));
  const brush = () => app.setBrush(model.get("_brush") || []);
  model.on("change:_density", density);
  model.on("change:_chart", chart);
  model.on("change:message", message);
  model.on("change:error", error);
  model.on("change:lane_keys", keys);
  model.on("change:lane_key", keys);
  model.on("change:_brush", brush);
  keys();
  message();
  error();
  density();
  brush();
  chart();
  requestAnimationFrame(() => {
    const w = Math.round(app.cssWidth());
    if (Math.abs(w - (model.get("width_px") || 0)) > 4) save("width_px", w);
  });
  return () => app.resizer.disconnect();
}

export default { render: renderTimeline };

// profilelab FlameGraph widget: the source panel and the call-graph view.
//
// Joined after flame.js by profilelab/widgets/flamegraph.py (el, formatValue, pct and
// RENDER_EXTENSIONS come from there).
// Python computes both (profilelab/widgets/flame_panels.py); this file only draws them.
// Function names, file names, source lines and tooltips are data: they are assigned with
// textContent (or as attribute values), never parsed as markup; the graph's shapes arrive
// as numbers, checked colours and SVG path strings built from numbers.

const SVG_NS = "http://www.w3.org/2000/svg";
const HOME_SCALE = 0.8; // graph points to CSS pixels at which dot's 8 pt labels still read

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k of Object.keys(attrs || {})) e.setAttribute(k, String(attrs[k]));
  return e;
}

function button(cls, text, title, onClick) {
  const b = el("button", cls, text);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

// ---- source panel ---------------------------------------------------------------------------
class SourcePanel {
  constructor() {
    this.root = el("div", "plf-source");
    this.root.style.display = "none";
    this.payload = null;
  }

  set(payload) {
    this.payload = payload && payload.function ? payload : null;
    this.render();
  }

  close() {
    this.root.style.display = "none";
  }

  /** Show again (a click on the function already shown). */
  reopen(name) {
    if (this.payload && this.payload.function === name) {
      this.root.style.display = "";
      this.scrollToHottest();
    }
  }

  render() {
    const p = this.payload;
    if (!p) {
      this.root.replaceChildren();
      this.root.style.display = "none";
      return;
    }
    this.root.style.display = "";
    const head = el("div", "plf-src-head");
    const title = el("span", "plf-src-title");
    title.append(document.createTextNode("source of "), el("b", "plf-src-fn", p.function));
    head.append(title);
    if (p.unit) head.append(el("span", "plf-src-legend", `flat and cum per line, ${p.sample_type} (${p.unit})`));
    head.append(button("plf-src-close", "×", "close the source panel", () => this.close()));
    const parts = [head];
    if (p.message) parts.push(el("div", "plf-src-message", p.message));
    for (const r of p.routines || []) parts.push(this.routine(r, p));
    this.root.replaceChildren(...parts);
    this.scrollToHottest();
  }

  routine(r, p) {
    const f = (v) => formatValue(v, p.unit);
    const box = el("div", "plf-src-routine");
    if (!r.file) {
      box.append(el("div", "plf-src-message", `no source information: the profile names no file for ${r.function}`));
      return box;
    }
    const file = el("div", "plf-src-file");
    file.append(el("span", "plf-src-path", r.found || r.file));
    file.append(el("span", "plf-src-totals", ` · flat ${f(r.flat)} · cum ${f(r.cum)} (${pct(r.cum, p.total)} of total)`));
    box.append(file);
    if (r.error) box.append(this.missing(r, p));
    const peak = Math.max(1, ...r.lines.map((l) => Math.abs(l[2])));
    const peakFlat = Math.max(1, ...r.lines.map((l) => Math.abs(l[1])));
    const wrap = el("div", "plf-src-lines");
    const tbl = el("table", "plf-src-table");
    const head = el("tr");
    for (const c of ["line", "flat", "cum", r.error ? "" : "source"]) head.append(el("th", "", c));
    const thead = el("thead");
    thead.append(head);
    const body = el("tbody");
    for (const [line, flat, cum, text] of r.lines) {
      const tr = el("tr", "plf-src-row");
      tr.dataset.line = String(line);
      tr.dataset.flat = String(flat);
      tr.dataset.cum = String(cum);
      if (cum) tr.style.setProperty("--plf-heat", String(Math.min(1, Math.abs(cum) / peak).toFixed(3)));
      const fl = el("td", "plf-src-flat", flat ? f(flat) : ".");
      if (flat) fl.style.setProperty("--plf-bar", `${(100 * Math.min(1, Math.abs(flat) / peakFlat)).toFixed(1)}%`);
      tr.append(el("td", "plf-src-no", String(line)), fl, el("td", "plf-src-cum", cum ? f(cum) : "."));
      tr.append(el("td", "plf-src-code", text === null ? "" : text));
      if (line === r.hottest) tr.classList.add("plf-src-hot");
      body.append(tr);
    }
    tbl.append(thead, body);
    wrap.append(tbl);
    box.append(wrap);
    return box;
  }

  missing(r, p) {
    const m = el("div", "plf-src-missing");
    m.append(el("div", "plf-src-missing-title", `could not find the source file ${r.file}`));
    if (r.error) m.append(el("div", "plf-src-error", r.error));
    if (r.looked_in && r.looked_in.length) {
      m.append(el("div", "", "looked in:"));
      const ul = el("ul", "plf-src-looked");
      for (const path of r.looked_in) ul.append(el("li", "", path));
      m.append(ul);
    }
    m.append(el("div", "plf-src-hint", "add the directory that holds it: FlameGraph(profile, source_path=\"DIR\") or widget.source_path = \"DIR\" (several: \":\"-separated; trim_path=\"PREFIX\" removes a prefix of the profile's file names)"));
    if (r.lines.length) m.append(el("div", "", "the sampled lines, without their text:"));
    return m;
  }

  /** Scroll each listing so that its hottest line is in the middle. */
  scrollToHottest() {
    requestAnimationFrame(() => {
      for (const wrap of this.root.querySelectorAll(".plf-src-lines")) {
        const hot = wrap.querySelector(".plf-src-hot");
        if (hot) wrap.scrollTop = Math.max(0, hot.offsetTop - wrap.clientHeight / 2 + hot.offsetHeight / 2);
      }
    });
  }
}

// ---- call-graph view --------------------------------------------------------------------------
class GraphView {
  constructor(onNode, onNodeCount) {
    this.onNode = onNode;
    this.root = el("div", "plf-graph");
    const bar = el("div", "plf-graph-bar");
    bar.append(
      button("plf-graph-in", "+", "zoom in", () => this.zoomCentre(1.25)),
      button("plf-graph-out", "−", "zoom out", () => this.zoomCentre(0.8)),
      button("plf-graph-reset", "reset", "back to the first view: readable, at the hottest function", () => this.home()),
      button("plf-graph-fit", "whole graph", "fit the whole graph in view", () => this.fit()),
    );
    const count = el("input", "plf-graph-nodecount");
    count.type = "number";
    count.min = "1";
    count.max = "1000";
    count.addEventListener("change", () => {
      const n = parseInt(count.value, 10);
      if (n > 0) onNodeCount(n);
    });
    this.count = count;
    const lab = el("label", "plf-graph-count-label", "nodes ");
    lab.append(count);
    this.info = el("span", "plf-graph-info");
    bar.append(lab, this.info);
    this.message = el("div", "plf-graph-message");
    this.box = el("div", "plf-graph-box");
    this.svg = svgEl("svg", { class: "plf-graph-svg", width: "100%", height: "100%" });
    this.layer = svgEl("g", {});
    this.svg.append(this.layer);
    this.box.append(this.svg);
    this.root.append(bar, this.message, this.box);
    this.k = 1;
    this.tx = 0;
    this.ty = 0;
    this.payload = null;
    this.fitted = false;
    this.dragged = false;
    this.box.addEventListener("pointerdown", (e) => this.down(e));
    this.box.addEventListener("pointermove", (e) => this.move(e));
    this.box.addEventListener("pointerup", (e) => this.up(e));
    this.box.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = this.box.getBoundingClientRect();
      this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
  }

  set(payload, nodecount) {
    this.count.value = String(nodecount);
    this.payload = payload && (payload.items || payload.message) ? payload : null;
    const p = this.payload;
    this.message.textContent = p && p.message ? p.message : "";
    this.box.style.display = p && p.items ? "" : "none";
    this.layer.replaceChildren();
    this.nodes = [];
    if (!p || !p.items) {
      this.info.textContent = "";
      return;
    }
    const f = (v) => formatValue(v, p.unit);
    for (const item of p.items) {
      const g = svgEl("g", { class: `plf-g${item.kind}` });
      const title = svgEl("title", {});
      title.textContent = item.kind === "node" ? `${item.name}\nflat ${f(item.flat)} · cum ${f(item.cum)}\nclick: focus it in the flame graph` : item.tip;
      g.append(title);
      for (const s of item.shapes) g.append(this.shape(s));
      if (item.kind === "node") {
        g.dataset.name = item.name;
        g.dataset.cum = String(item.cum);
        g.addEventListener("click", (e) => {
          if (this.dragged) return;
          e.stopPropagation();
          this.onNode(item.name);
        });
        // keyboard: Tab reaches each node, Enter or Space focuses it
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "button");
        g.setAttribute("aria-label", `${item.name}: focus it in the flame graph`);
        g.addEventListener("keydown", (e) => {
          if (e.key !== "Enter" && e.key !== " ") return;
          e.preventDefault();
          this.onNode(item.name);
        });
        this.nodes.push(g);
      }
      this.layer.append(g);
    }
    this.info.textContent = `${p.nodes} nodes, ${p.edges} edges · drag to pan, wheel or +/− to zoom, click a node to focus it in the flame graph`;
    this.fitted = false;
    this.home();
  }

  shape(s) {
    if (s.t === "text") {
      const t = svgEl("text", { x: s.x, y: s.y, "text-anchor": s.anchor, "font-size": s.size, fill: s.fill });
      t.textContent = s.text;
      return t;
    }
    const attrs = s.t === "path" ? { d: s.d } : { cx: s.cx, cy: s.cy, rx: s.rx, ry: s.ry };
    Object.assign(attrs, { fill: s.fill, stroke: s.stroke, "stroke-width": s.w });
    if (s.dash) attrs["stroke-dasharray"] = s.dash;
    return svgEl(s.t, attrs);
  }

  /** The whole graph in view (not above natural size). */
  fit() {
    const p = this.payload;
    if (!p || !p.items) return;
    const W = this.box.clientWidth, H = this.box.clientHeight;
    if (!W || !H) return; // hidden: placed when shown
    this.k = Math.min(W / p.width, H / p.height, 1.5);
    this.tx = (W - p.width * this.k) / 2;
    this.ty = Math.max(0, (H - p.height * this.k) / 2);
    this.fitted = true;
    this.apply();
  }

  /** The first view: the whole graph when its labels stay readable there, else readable
   * (HOME_SCALE) and centred on the function with the largest cum. */
  home() {
    this.fit();
    const p = this.payload;
    if (!this.fitted || this.k >= HOME_SCALE) return;
    let hot = null;
    for (const item of p.items) if (item.kind === "node" && item.at && (!hot || Math.abs(item.cum) > Math.abs(hot.cum))) hot = item;
    if (!hot) return;
    const W = this.box.clientWidth, H = this.box.clientHeight;
    this.k = HOME_SCALE;
    this.tx = W / 2 - hot.at[0] * this.k;
    this.ty = Math.min(8, H / 3 - hot.at[1] * this.k);
    this.apply();
  }

  shown() {
    if (!this.fitted) this.home();
  }

  apply() {
    this.layer.setAttribute("transform", `translate(${this.tx.toFixed(2)},${this.ty.toFixed(2)}) scale(${this.k.toFixed(5)})`);
  }

  zoomAt(factor, cx, cy) {
    const k = Math.min(20, Math.max(0.02, this.k * factor));
    const f = k / this.k;
    this.tx = cx - (cx - this.tx) * f;
    this.ty = cy - (cy - this.ty) * f;
    this.k = k;
    this.apply();
  }

  zoomCentre(factor) {
    this.zoomAt(factor, this.box.clientWidth / 2, this.box.clientHeight / 2);
  }

  down(e) {
    if (e.button !== 0) return;
    this.drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty };
    this.dragged = false;
  }

  move(e) {
    const d = this.drag;
    if (!d) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (!this.dragged && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!this.dragged) this.box.setPointerCapture(e.pointerId);
    this.dragged = true;
    this.box.classList.add("plf-graph-dragging");
    this.tx = d.tx + dx;
    this.ty = d.ty + dy;
    this.apply();
  }

  up(e) {
    this.drag = null;
    this.box.classList.remove("plf-graph-dragging");
    if (this.dragged) setTimeout(() => (this.dragged = false), 0); // the click after a drag
  }
}

// ---- wiring -------------------------------------------------------------------------------
function attachPanels({ model, app, save }) {
  if (model.get("_kind") === "diff") return null;
  const host = app.host;
  const tabs = el("div", "plf-tabs");
  tabs.setAttribute("role", "tablist");
  const toTab = (t) => {
    save("tab", t);
    showTab();
  };
  const flameTab = button("plf-tab plf-tab-flame", "flame graph", "", () => toTab("flame"));
  const graphTab = button("plf-tab plf-tab-graph", "call graph", "pprof's call graph of this selection", () => toTab("graph"));
  const chip = el("span", "plf-focus-chip");
  tabs.append(flameTab, graphTab, chip);
  const focusOn = (name) => {
    save("focus_function", name);
    showChip();
  };
  const graph = new GraphView(focusOn, (n) => save("nodecount", n));
  const source = new SourcePanel();
  app.main.prepend(tabs);
  app.main.append(graph.root, source.root);
  app.graph = graph;
  app.source = source;

  function showTab() {
    const onGraph = model.get("tab") === "graph";
    app.root.classList.toggle("plf-show-graph", onGraph);
    flameTab.setAttribute("aria-selected", String(!onGraph));
    graphTab.setAttribute("aria-selected", String(onGraph));
    if (onGraph) graph.shown();
    else if (app.view.tree) {
      app.view.draw();
      if (app.extra) app.extra.forEach((v) => v.draw());
    }
  }
  function showChip() {
    const fn = model.get("focus_function") || "";
    chip.replaceChildren();
    if (!fn) return;
    chip.append(document.createTextNode("focused on "), el("b", "", fn), button("plf-chip-clear", "×", "show the whole profile again", () => focusOn("")));
  }
  const select = host.select;
  host.select = (path, name) => {
    if (select) select(path, name);
    source.reopen(name);
  };
  const tableClick = host.tableClick;
  if (tableClick) {
    host.tableClick = (name) => {
      model.set("tab", "flame");
      tableClick(name);
    };
  }
  model.on("change:tab", showTab);
  model.on("change:_graph", () => graph.set(model.get("_graph"), model.get("nodecount")));
  model.on("change:_source", () => source.set(model.get("_source")));
  model.on("change:focus_function", showChip);
  graph.set(model.get("_graph"), model.get("nodecount"));
  source.set(model.get("_source"));
  showChip();
  showTab();
  return null;
}

RENDER_EXTENSIONS.push(attachPanels);

export default { render };

// profilelab flame graphs: one canvas renderer for the anywidget and the static HTML export.
//
// Data arrives as the binary payload of profilelab/views/encode.py. Function names are
// untrusted: they are only ever drawn with fillText or assigned with textContent.

const ROW = 18;
const FONT = "12px ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif";
const TYPES = { i32: Int32Array, u32: Uint32Array, f64: Float64Array, u8: Uint8Array };
const STATUS = ["same", "changed", "appeared", "disappeared"];

// ---- payload ----------------------------------------------------------------------------
export function decodePayload(input) {
  let bytes;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof DataView) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else throw new Error("flame payload must be bytes");
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice(); // typed arrays need aligned offsets
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== "PLF1") throw new Error("not a profilelab flame payload");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  let base = 8 + n;
  base += (8 - (base % 8)) % 8;
  const arrays = {};
  for (const spec of header.arrays) {
    const T = TYPES[spec.dtype];
    arrays[spec.name] = new T(bytes.buffer, bytes.byteOffset + base + spec.offset, spec.length);
  }
  const text = new TextDecoder().decode(arrays.str_text);
  const off = arrays.str_offsets;
  const strings = new Array(off.length - 1);
  for (let i = 0; i < strings.length; i++) strings[i] = text.slice(off[i], off[i + 1]);
  return { meta: header.meta, arrays, strings };
}

export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- formatting ---------------------------------------------------------------------------
const UNITS = {
  nanoseconds: [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]],
  microseconds: [[1e6, "s"], [1e3, "ms"], [1, "µs"]],
  milliseconds: [[1e3, "s"], [1, "ms"]],
  seconds: [[1, "s"]],
  bytes: [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"], [1, "B"]],
};

const PER = { hour: "h", minute: "min", second: "s" };

export function formatValue(v, unit) {
  const rate = /^(.+)\/(hour|minute|second)$/.exec(unit || ""); // growth: bytes/hour
  if (rate && UNITS[rate[1]]) return `${formatValue(v, rate[1])}/${PER[rate[2]]}`;
  const scales = UNITS[unit];
  const a = Math.abs(v);
  if (scales) {
    for (const [f, s] of scales) if (a >= f) return `${+(v / f).toPrecision(3)} ${s}`;
    return `0 ${scales[scales.length - 1][1]}`;
  }
  const txt = Math.round(v).toLocaleString("en-US");
  return unit && unit !== "count" ? `${txt} ${unit}` : txt;
}

function pct(part, whole) {
  if (!whole) return "–";
  const p = (100 * part) / whole;
  return `${Math.abs(p) >= 10 ? p.toFixed(1) : p.toPrecision(2)}%`;
}

function isDark(bg) {
  return contrast(bg, "#000000") < contrast(bg, "#ffffff");
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- tree model -----------------------------------------------------------------------------
export class Tree {
  constructor(payload) {
    const { meta, arrays, strings } = payload;
    this.meta = meta;
    this.strings = strings;
    this.parent = arrays.parent;
    this.name = arrays.name;
    this.n = this.parent.length;
    this.diff = meta.kind === "diff";
    this.total = this.diff ? arrays.new : arrays.total;
    this.base = this.diff ? arrays.base : null;
    this.strFile = arrays.str_file;
    this.strLine = arrays.str_line;
    this.strPackage = arrays.str_package;
    const n = this.n;
    this.other = new Int32Array(n);
    for (let j = 0; j < arrays.other_node.length; j++) this.other[arrays.other_node[j]] = arrays.other_count[j];
    this.depth = new Int32Array(n);
    this.firstChild = new Int32Array(n).fill(-1);
    this.childCount = new Int32Array(n);
    let maxDepth = 0;
    for (let i = 1; i < n; i++) {
      const p = this.parent[i];
      this.depth[i] = this.depth[p] + 1;
      if (this.firstChild[p] < 0) this.firstChild[p] = i;
      this.childCount[p]++;
      if (this.depth[i] > maxDepth) maxDepth = this.depth[i];
    }
    this.maxDepth = maxDepth;
    this.levelStart = new Int32Array(maxDepth + 2);
    for (let i = 0, d = 0; d <= maxDepth + 1; d++) {
      while (i < n && this.depth[i] < d) i++;
      this.levelStart[d] = i;
    }
    this.selfNew = this.selfOf(this.total);
    this.selfBase = this.diff ? this.selfOf(this.base) : null;
    this.scale = this.diff ? meta.scale : 1;
    this.setMode({});
  }

  selfOf(values) {
    const self = Float64Array.from(values);
    for (let i = 1; i < this.n; i++) self[this.parent[i]] -= values[i];
    for (let i = 0; i < this.n; i++) if (this.other[i]) self[i] = 0;
    return self;
  }

  /** Diff options: normalize (scale the base) and widthBy ("new" or "max"). */
  setMode({ normalize = this.meta.normalize, widthBy = this.meta.width_by }) {
    this.normalize = !!normalize;
    this.widthBy = widthBy || "new";
    const k = this.diff && this.normalize ? this.scale : 1;
    this.k = k;
    const n = this.n;
    const w = new Float64Array(n);
    if (!this.diff || this.widthBy !== "max") {
      for (let i = 0; i < n; i++) w[i] = Math.abs(this.total[i]);
    } else {
      // max(base*k, new), widened bottom-up so children fit (children follow parents)
      const kids = new Float64Array(n);
      for (let i = n - 1; i >= 0; i--) {
        w[i] = Math.max(Math.abs(this.base[i]) * k, Math.abs(this.total[i]), kids[i]);
        if (i > 0) kids[this.parent[i]] += w[i];
      }
    }
    this.width = w;
    this.start = new Float64Array(n);
    const cursor = new Float64Array(n);
    for (let i = 1; i < n; i++) {
      const p = this.parent[i];
      this.start[i] = this.start[p] + cursor[p]; // children packed from the parent's left edge
      cursor[p] += w[i];
    }
  }

  nameOf(i) {
    return this.strings[this.name[i]];
  }

  /** Names from this payload's root (exclusive) down to node i. */
  pathBelowRoot(i) {
    const out = [];
    while (i > 0) {
      out.push(this.nameOf(i));
      i = this.parent[i];
    }
    return out.reverse();
  }

  absPath(i) {
    return this.meta.root_path.concat(this.pathBelowRoot(i));
  }

  find(path) {
    let node = 0;
    for (const name of path) {
      let hit = -1;
      const c0 = this.firstChild[node];
      for (let c = c0; c >= 0 && c < c0 + this.childCount[node]; c++) {
        if (this.nameOf(c) === name) {
          hit = c;
          break;
        }
      }
      if (hit < 0) return -1;
      node = hit;
    }
    return node;
  }

  /** The node of depth d covering value position x (-1 if none). */
  at(d, x) {
    if (d < 0 || d > this.maxDepth) return -1;
    let lo = this.levelStart[d];
    let hi = this.levelStart[d + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.start[mid] + this.width[mid] <= x) lo = mid + 1;
      else if (this.start[mid] > x) hi = mid - 1;
      else return this.width[mid] > 0 ? mid : -1;
    }
    return -1;
  }
}

// ---- colours ----------------------------------------------------------------------------
function hashString(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

// Fills are light in the light theme (black labels) and dark in the dark theme (white
// labels); labelColour picks whichever of black and white contrasts more, which is at least
// 4.58:1 on any fill (WCAG: luminance 0.179 is the worst case for both).
export function packageColour(pkg, dark = false) {
  const h = hashString(pkg || "?");
  const hue = 5 + (h % 50); // red..yellow, the classic flame palette
  const light = (dark ? 26 : 58) + ((h >> 8) % 14);
  return `hsl(${hue},${dark ? 70 : 85}%,${light}%)`;
}

export function selfColour(share, dark = false) {
  const s = Math.max(0, Math.min(1, share));
  const light = dark ? 24 + 14 * s : 80 - 28 * s;
  return `hsl(${40 - 40 * s},${55 + 35 * s}%,${light}%)`;
}

export function diffColour(rel, dark = false) {
  if (!isFinite(rel) || Math.abs(rel) < 1e-9) return dark ? "hsl(0,0%,30%)" : "hsl(0,0%,82%)";
  const a = Math.min(1, Math.abs(rel));
  const light = dark ? 24 + 16 * a : 88 - 40 * a;
  return rel > 0 ? `hsl(0,80%,${light}%)` : `hsl(215,80%,${light}%)`;
}

export function hslToRgb(css) {
  const m = /hsl\(([-\d.]+),([\d.]+)%,([\d.]+)%\)/.exec(css);
  if (!m) {
    const hex = /^#([0-9a-f]{6})$/i.exec(css.trim());
    if (!hex) return [255, 255, 255];
    const v = parseInt(hex[1], 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const h = ((+m[1] % 360) + 360) % 360, s = +m[2] / 100, l = +m[3] / 100;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const k = l - c / 2;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [r, g, b].map((v) => Math.round((v + k) * 255));
}

function luminance(rgb) {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two CSS colours (hsl(...) or #rrggbb). */
export function contrast(a, b) {
  const la = luminance(hslToRgb(a)), lb = luminance(hslToRgb(b));
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** Black or white, whichever reads better on the fill. */
export function labelColour(fill) {
  return contrast(fill, "#000000") >= contrast(fill, "#ffffff") ? "#000000" : "#ffffff";
}

/** Shorten a frame name to maxChars by cutting its middle, keeping the function name:
 * "encoding/json.(*encodeState).marshal" -> "enc…json.(*encodeState).marshal" or, tighter,
 * "json.(*e…).marshal" ("…" stands for what was cut). */
export function shortenLabel(name, maxChars) {
  if (name.length <= maxChars) return name;
  if (maxChars < 2) return "";
  const slash = name.lastIndexOf("/");
  const tail = slash >= 0 ? name.slice(slash + 1) : name;
  if (tail.length + 2 <= maxChars) {
    return `${name.slice(0, maxChars - tail.length - 1)}…${tail}`;
  }
  const keep = maxChars - 1;
  const front = Math.floor(keep / 3);
  return `${tail.slice(0, front)}…${tail.slice(tail.length - (keep - front))}`;
}

// ---- the canvas view --------------------------------------------------------------------------
export class FlameView {
  constructor(opts) {
    this.opts = Object.assign({ orientation: "icicle", colorBy: "package" }, opts);
    this.root = el("div", "plf-view");
    this.scroller = el("div", "plf-scroll");
    this.canvas = el("canvas", "plf-canvas");
    this.canvas.tabIndex = 0;
    this.tip = el("div", "plf-tip");
    this.tip.style.display = "none";
    this.scroller.append(this.canvas);
    this.root.append(this.scroller, this.tip);
    this.tree = null;
    this.zoomNode = 0;
    this.match = null;
    this.lastDraw = 0;
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    this.canvas.addEventListener("mouseleave", () => (this.tip.style.display = "none"));
    this.canvas.addEventListener("click", (e) => this.onClick(e));
    this.canvas.addEventListener("dblclick", (e) => {
      e.preventDefault();
      this.zoomOut();
    });
    this.canvas.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.zoomOut();
      }
    });
  }

  setTree(tree, zoomPath) {
    this.tree = tree;
    let node = 0;
    if (zoomPath) {
      const rp = tree.meta.root_path;
      const below = zoomPath.slice(rp.length);
      // walk down as far as this payload knows the path
      for (let k = below.length; k >= 0; k--) {
        const f = tree.find(below.slice(0, k));
        if (f >= 0) {
          node = f;
          break;
        }
      }
    }
    this.zoomNode = node;
    this.applySearch(this.searchRe);
    this.draw();
  }

  cssWidth() {
    return Math.max(100, this.scroller.clientWidth || this.root.clientWidth || 800);
  }

  zoomPath() {
    return this.tree ? this.tree.absPath(this.zoomNode) : [];
  }

  zoom(i, notify = true) {
    if (!this.tree || i < 0 || this.tree.other[i]) return;
    this.zoomNode = i;
    this.draw();
    if (notify && this.opts.onZoom) this.opts.onZoom(this.tree.absPath(i), this);
  }

  zoomOut() {
    if (!this.tree) return;
    if (this.zoomNode > 0) return this.zoom(this.tree.parent[this.zoomNode]);
    const rp = this.tree.meta.root_path;
    if (rp.length && this.opts.onZoom) this.opts.onZoom(rp.slice(0, -1), this);
  }

  visibleRows(scale) {
    const t = this.tree;
    const z = this.zoomNode;
    const x0 = t.start[z];
    const x1 = x0 + t.width[z];
    let deepest = t.depth[z];
    for (let i = z + 1; i < t.n; i++) {
      const d = t.depth[i];
      if (d <= t.depth[z] || d <= deepest) continue;
      if (t.width[i] * scale < 0.5 || t.start[i] < x0 || t.start[i] >= x1) continue;
      deepest = d;
    }
    return deepest - t.depth[z] + 1;
  }

  draw() {
    const t0 = performance.now();
    const t = this.tree;
    const cv = this.canvas;
    if (!t) return;
    const W = this.cssWidth();
    const z = this.zoomNode;
    const scale = t.width[z] > 0 ? W / t.width[z] : 0;
    const rows = this.visibleRows(scale);
    const dpr = window.devicePixelRatio || 1;
    const H = rows * ROW;
    cv.style.width = `${W}px`;
    cv.style.height = `${H}px`;
    cv.width = Math.round(W * dpr);
    cv.height = Math.round(H * dpr);
    const ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(this.root);
    ctx.fillStyle = css.getPropertyValue("--plf-bg").trim() || "#fff";
    ctx.fillRect(0, 0, W, H);
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    const charW = ctx.measureText("abcdefghij").width / 10 || 7;
    this.dark = isDark(css.getPropertyValue("--plf-bg").trim() || "#ffffff");
    const x0 = t.start[z];
    const x1 = x0 + t.width[z];
    const dz = t.depth[z];
    const flame = this.opts.orientation === "flame";
    const searching = !!this.match;
    this.scale = scale;
    this.rows = rows;
    for (let i = z; i < t.n; i++) {
      const d = t.depth[i];
      if (d < dz || (i !== z && d === dz)) continue;
      const w = t.width[i] * scale;
      if (w < 0.5 || t.start[i] < x0 || t.start[i] >= x1) continue;
      const x = (t.start[i] - x0) * scale;
      const r = d - dz;
      const y = flame ? (rows - 1 - r) * ROW : r * ROW;
      ctx.globalAlpha = searching && !this.match[i] ? 0.25 : 1;
      const fill = this.colour(i);
      ctx.fillStyle = fill;
      ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
      if (searching && this.match[i]) {
        ctx.strokeStyle = "#c000c0";
        ctx.lineWidth = 1.5;
        ctx.strokeRect(x + 0.75, y + 0.75, Math.max(w - 2, 0.5), ROW - 2.5);
      }
      if (w > 3 * charW + 6) {
        const full = t.other[i] ? `${t.other[i]} more` : t.nameOf(i);
        let maxChars = Math.floor((w - 6) / charW);
        let label = shortenLabel(full, maxChars);
        while (label && maxChars > 2 && ctx.measureText(label).width > w - 6) label = shortenLabel(full, --maxChars);
        if (label.length > 1) {
          ctx.fillStyle = labelColour(fill);
          ctx.fillText(label, x + 3, y + ROW / 2);
        }
      }
    }
    ctx.globalAlpha = 1;
    this.lastDraw = performance.now() - t0;
    this.lastDrawEnd = performance.now();
    this.drawCount = (this.drawCount || 0) + 1;
    if (this.opts.onDraw) this.opts.onDraw(this);
  }

  colour(i) {
    const t = this.tree;
    const dark = !!this.dark;
    if (t.other[i]) return dark ? "hsl(0,0%,34%)" : "hsl(0,0%,75%)";
    if (i === 0 && t.meta.root_path.length === 0) return dark ? "hsl(0,0%,28%)" : "hsl(0,0%,80%)";
    if (t.diff) {
      const b = t.base[i] * t.k;
      const n = t.total[i];
      const m = Math.max(Math.abs(b), Math.abs(n));
      return diffColour(m ? (n - b) / m : 0, dark);
    }
    if (this.opts.colorBy === "self") return selfColour(t.total[i] ? t.selfNew[i] / t.total[i] : 0, dark);
    return packageColour(t.strings[t.strPackage[t.name[i]]], dark);
  }

  nodeAt(e) {
    const t = this.tree;
    if (!t) return -1;
    const rect = this.canvas.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    let r = Math.floor(py / ROW);
    if (this.opts.orientation === "flame") r = this.rows - 1 - r;
    const x = t.start[this.zoomNode] + px / this.scale;
    const i = t.at(t.depth[this.zoomNode] + r, x);
    if (i < 0 || t.width[i] * this.scale < 0.5) return -1;
    const x0 = t.start[this.zoomNode];
    if (t.start[i] < x0 || t.start[i] >= x0 + t.width[this.zoomNode]) return -1;
    return i;
  }

  onClick(e) {
    const i = this.nodeAt(e);
    if (i < 0) return;
    if (this.opts.onSelect) this.opts.onSelect(this.tree.absPath(i), this.tree.nameOf(i), this);
    if (i !== this.zoomNode) this.zoom(i);
  }

  onMove(e) {
    const i = this.nodeAt(e);
    if (i < 0) {
      this.tip.style.display = "none";
      return;
    }
    this.fillTip(i);
    const host = this.root.getBoundingClientRect();
    const tw = this.tip.offsetWidth || 260;
    let left = e.clientX - host.left + 14;
    if (left + tw > host.width) left = Math.max(0, e.clientX - host.left - tw - 14);
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${e.clientY - host.top + 14}px`;
  }

  fillTip(i) {
    const t = this.tree;
    const unit = t.meta.unit;
    const f = (v) => formatValue(v, unit);
    const lines = [];
    if (t.other[i]) {
      lines.push([`${t.other[i]} frames folded (each under half a pixel)`, "plf-tip-name"]);
    } else {
      lines.push([t.nameOf(i), "plf-tip-name"]);
      const file = t.strings[t.strFile[t.name[i]]];
      const line = t.strLine[t.name[i]];
      if (file) lines.push([line ? `${file}:${line}` : file, "plf-tip-file"]);
    }
    const parent = i > 0 ? t.parent[i] : -1;
    if (!t.diff) {
      const all = t.meta.grand_total;
      lines.push([`self: ${f(t.selfNew[i])} (${pct(t.selfNew[i], all)})`]);
      lines.push([`total: ${f(t.total[i])} (${pct(t.total[i], all)} of all)`]);
      lines.push([`${pct(t.total[i], t.total[this.zoomNode])} of zoomed root`]);
      if (parent >= 0) lines.push([`${pct(t.total[i], t.total[parent])} of parent`]);
    } else {
      const b = t.base[i] * t.k;
      const n = t.total[i];
      const d = n - b;
      lines.push([`base: ${f(b)}${t.k !== 1 ? " (normalized)" : ""}`]);
      lines.push([`new: ${f(n)}`]);
      const rel = b ? `${d >= 0 ? "+" : ""}${pct(d, b)}` : n ? "appeared" : "–";
      lines.push([`delta: ${d >= 0 ? "+" : ""}${f(d)} (${rel})`, d > 0 ? "plf-up" : d < 0 ? "plf-down" : ""]);
      lines.push([`self base/new: ${f(t.selfBase[i] * t.k)} / ${f(t.selfNew[i])}`]);
      if (parent >= 0) lines.push([`${pct(n, t.total[parent])} of parent (new)`]);
    }
    this.tip.replaceChildren(...lines.map(([txt, cls]) => el("div", cls || "", txt)));
    this.tip.style.display = "block";
  }

  /** Highlight nodes whose name matches the regex. Returns the matching frames in view
   * (count), their value (each stack once) inside the zoomed frame (total) and in the whole
   * payload (all), and share = total / the zoomed frame's value. */
  applySearch(re) {
    this.searchRe = re || null;
    const t = this.tree;
    if (!t || !re) {
      this.match = null;
      return { count: 0, share: 0, total: 0, all: 0 };
    }
    const m = new Uint8Array(t.n);
    const under = new Uint8Array(t.n); // an ancestor already matched: don't count twice
    const underZ = new Uint8Array(t.n); // the same, ancestors inside the zoomed frame only
    let count = 0;
    let total = 0;
    let all = 0;
    for (let i = 0; i < t.n; i++) {
      if (t.other[i]) continue;
      const p = i > 0 ? t.parent[i] : -1;
      if (p >= 0) {
        under[i] = under[p] | m[p];
        underZ[i] = this.inZoom(p) ? underZ[p] | m[p] : 0;
      }
      re.lastIndex = 0;
      if (re.test(t.nameOf(i))) {
        m[i] = 1;
        const inside = this.inZoom(i);
        if (inside) count++;
        if (!under[i]) all += t.total[i];
        if (inside && !underZ[i]) total += t.total[i];
      }
    }
    this.match = m;
    const root = t.total[this.zoomNode];
    return { count, total, all, share: root ? total / root : 0 };
  }

  inZoom(i) {
    const t = this.tree;
    const z = this.zoomNode;
    return t.depth[i] >= t.depth[z] && t.start[i] >= t.start[z] && t.start[i] < t.start[z] + t.width[z];
  }
}

const VIEW_NAMES = { flame: "flame graph (callers above callees)", inverted: "inverted (callees above callers)", callers: "callers", callees: "callees" };

function fmtShare(x) {
  return `${(100 * x).toFixed(1)}%`;
}

/** A control with its visible label. */
function field(label, control) {
  const f = el("label", "plf-field");
  f.append(el("span", "plf-field-label", label), control);
  return f;
}

function choice(pairs, value, onChange, cls) {
  const s = el("select", cls);
  for (const [v, label] of pairs) {
    const o = el("option", "", label);
    o.value = v;
    s.append(o);
  }
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

/** Swatches of the diff palette: what red and blue mean. */
function diffLegend() {
  const items = [];
  for (const [rel, text] of [[-1, "shrank (−100%)"], [-0.3, "−30%"], [0, "unchanged"], [0.3, "+30%"], [1, "grew (new or +100%)"]]) {
    const sw = el("span", "plf-swatch");
    sw.style.background = diffColour(rel);
    const item = el("span", "plf-legend-item");
    item.append(sw, document.createTextNode(text));
    items.push(item);
  }
  items.push(el("span", "plf-legend-note", "colour: change relative to the larger of base and new"));
  return items;
}

// ---- the application shell (toolbar, breadcrumb, tables) --------------------------------------
class App {
  constructor(container, host) {
    this.host = host;
    this.root = el("div", "plf-root");
    container.replaceChildren(this.root);
    this.toolbar = el("div", "plf-toolbar");
    this.crumbs = el("div", "plf-crumbs");
    this.status = el("div", "plf-status");
    this.error = el("div", "plf-error");
    this.warning = el("div", "plf-warning");
    this.warning.setAttribute("role", "alert");
    this.legend = el("div", "plf-legend");
    this.main = el("div", "plf-main");
    this.side = el("details", "plf-side");
    this.side.open = true;
    const body = el("div", "plf-body");
    body.append(this.main, this.side);
    this.root.append(this.toolbar, this.error, this.warning, this.crumbs, this.status, this.legend, body);
    this.view = new FlameView({
      orientation: host.orientation || "icicle",
      onZoom: (path, v) => this.onZoom(path, v),
      onSelect: (path, name) => host.select && host.select(path, name),
      onDraw: () => this.afterDraw(),
    });
    this.main.append(this.view.root);
    this.extra = null; // sandwich views
    this.buildToolbar();
    this.resizer = new ResizeObserver(() => {
      if (this.view.tree && Math.abs(this.view.cssWidth() - (this.lastWidth || 0)) > 4) {
        this.lastWidth = this.view.cssWidth();
        this.view.draw();
        if (this.extra) this.extra.forEach((v) => v.draw());
        if (host.resized) host.resized(this.lastWidth);
      }
    });
    this.resizer.observe(this.main);
    window.__plf = window.__plf || [];
    window.__plf.push(this);
  }

  buildToolbar() {
    const h = this.host;
    const tb = this.toolbar;
    for (const ctl of h.controls || []) tb.append(ctl);
    const search = el("input", "plf-search");
    search.type = "search";
    search.placeholder = "regex, e.g. json|gc";
    search.addEventListener("input", () => this.setSearch(search.value));
    this.searchBox = search;
    this.searchInfo = el("div", "plf-search-info");
    tb.append(field("search", search));
    const orient = choice([["icicle", "root at top (icicle)"], ["flame", "root at bottom (flame)"]], this.view.opts.orientation, (v) => {
      this.view.opts.orientation = v;
      this.view.draw();
      if (h.orient) h.orient(v);
    }, "plf-orient");
    tb.append(field("layout", orient));
    if (!h.diff) {
      const colour = choice([["package", "package"], ["self", "self share"]], "package", (v) => {
        this.view.opts.colorBy = v;
        this.view.draw();
        if (this.extra) this.extra.forEach((x) => ((x.opts.colorBy = v), x.draw()));
      }, "plf-colour");
      tb.append(field("colour by", colour));
    } else {
      const norm = el("label", "plf-check");
      const box = el("input");
      box.type = "checkbox";
      box.className = "plf-normalize";
      norm.append(box, document.createTextNode(" normalize base to new total"));
      box.addEventListener("change", () => this.setDiffMode({ normalize: box.checked }));
      this.normalizeBox = box;
      const widthBy = choice([["new", "new"], ["max", "max(base, new)"]], "new", (v) => this.setDiffMode({ widthBy: v }), "plf-width-by");
      this.widthBySelect = widthBy;
      tb.append(norm, field("frame width", widthBy));
      this.legend.replaceChildren(...diffLegend());
    }
    this.root.insertBefore(this.searchInfo, this.crumbs);
  }

  setDiffMode(mode) {
    const t = this.view.tree;
    if (!t) return;
    const path = this.view.zoomPath();
    t.setMode(mode);
    this.view.setTree(t, path);
    if (this.table) this.renderTable();
    if (this.host.diffMode) this.host.diffMode({ normalize: t.normalize, widthBy: t.widthBy });
  }

  setSearch(text) {
    let re = null;
    this.searchBox.classList.remove("plf-bad");
    if (text) {
      try {
        re = new RegExp(text, "i");
      } catch (err) {
        this.searchBox.classList.add("plf-bad");
      }
    }
    this.searchText = text;
    const res = this.view.applySearch(re);
    this.view.draw();
    if (this.extra) this.extra.forEach((v) => (v.applySearch(re), v.draw()));
    this.searchResult = re ? res : null;
    this.renderSearchInfo();
    if (this.host.searched) this.host.searched(text);
  }

  /** "N matching frames in view: x% of the zoomed frame, y% of total". The total share is
   * the host's exact figure when it has one for this search (a kernel sees every sample),
   * else the payload's (exact when the payload is not re-rooted). */
  renderSearchInfo() {
    const res = this.searchResult;
    const t = this.view.tree;
    if (!res || !t) {
      this.searchInfo.textContent = "";
      return;
    }
    const grand = t.diff ? t.meta.grand_new : t.meta.grand_total;
    const zoomed = this.view.zoomNode > 0 || t.meta.root_path.length > 0;
    const exact = this.host.searchShares ? this.host.searchShares(this.searchText, this.view.zoomPath()) : null;
    let ofTotal = null;
    if (exact) ofTotal = exact.total;
    else if (!t.meta.root_path.length && grand) ofTotal = res.all / grand;
    const ofZoom = exact && zoomed ? exact.zoom : res.share;
    const parts = [`${res.count} matching frame${res.count === 1 ? "" : "s"}${zoomed ? " in the zoomed frame" : ""}`];
    if (zoomed) parts.push(`${fmtShare(ofZoom)} of zoomed frame`);
    if (ofTotal !== null) parts.push(`${fmtShare(ofTotal)} of total`);
    this.searchInfo.textContent = parts.join(" · ");
    this.searchInfo.dataset.ofZoom = zoomed ? String(ofZoom) : "";
    this.searchInfo.dataset.ofTotal = ofTotal === null ? "" : String(ofTotal);
  }

  setTree(tree, zoomPath) {
    this.view.setTree(tree, zoomPath || this.view.zoomPath());
    const warnings = tree.meta.warnings || [];
    this.warning.replaceChildren(...warnings.map((w) => el("div", "", `⚠ ${w}`)));
    if (this.normalizeBox) this.normalizeBox.checked = tree.normalize;
    if (this.widthBySelect) this.widthBySelect.value = tree.widthBy;
    if (this.searchText) this.setSearch(this.searchText);
    this.renderCrumbs();
  }

  onZoom(path, view) {
    this.renderCrumbs();
    if (this.searchText) this.setSearch(this.searchText);
    if (this.host.zoom) this.host.zoom(path, view);
  }

  afterDraw() {
    this.renderCrumbs();
    const t = this.view.tree;
    if (!t) return;
    this.crumbs.style.display = this.extra ? "none" : "";
    if (this.extra) {
      this.status.textContent = `sandwich view · callers of ${this.sandwichOf} above it, its callees below · ${t.meta.sample_type} (${t.meta.unit})`;
      return;
    }
    const m = t.meta;
    const z = this.view.zoomNode;
    const f = (v) => formatValue(v, m.unit);
    const zoomed = z > 0 || m.root_path.length > 0;
    if (t.diff) {
      this.status.textContent = `diff (red grew, blue shrank) · ${m.sample_type} (${m.unit}) · base ${f(m.grand_base)}, new ${f(m.grand_new)}; ${t.normalize ? `base normalized ×${m.scale.toPrecision(3)}` : "absolute values"} · ${t.n} nodes`;
    } else {
      const name = VIEW_NAMES[m.kind] || m.kind;
      const zoom = zoomed ? ` · zoomed frame ${f(t.total[z])} (${pct(t.total[z], m.grand_total)} of total)` : "";
      const range = m.time_range ? ` · ${m.time_range}` : "";
      this.status.textContent = `${name} · ${m.sample_type} (${m.unit}) · total ${f(m.grand_total)}${zoom}${range} · ${t.n} nodes`;
    }
  }

  renderCrumbs() {
    const t = this.view.tree;
    if (!t) return;
    const path = this.view.zoomPath();
    const items = [];
    const all = el("span", "plf-crumb", "all");
    all.addEventListener("click", () => this.zoomToPath([]));
    items.push(all);
    path.forEach((name, k) => {
      items.push(el("span", "plf-sep", " › "));
      const c = el("span", k === path.length - 1 ? "plf-crumb plf-crumb-current" : "plf-crumb", name);
      c.addEventListener("click", () => this.zoomToPath(path.slice(0, k + 1)));
      items.push(c);
    });
    this.crumbs.replaceChildren(...items);
  }

  zoomToPath(path) {
    const t = this.view.tree;
    const rp = t.meta.root_path;
    const inPayload = path.length >= rp.length && rp.every((n, k) => path[k] === n);
    const node = inPayload ? t.find(path.slice(rp.length)) : -1;
    if (node >= 0) this.view.zoom(node);
    else if (this.host.zoom) this.host.zoom(path, this.view);
  }

  setTable(payload) {
    this.table = payload;
    this.renderTable();
  }

  renderTable() {
    const p = this.table;
    if (!p) return;
    const a = p.arrays;
    const unit = (this.view.tree && this.view.tree.meta.unit) || p.meta.unit;
    const f = (v) => formatValue(v, unit);
    const diff = !!a.base_self;
    const tbl = el("table", "plf-table");
    const head = el("tr");
    const cols = diff ? ["function", "base", "new", "delta", "change"] : ["function", "self", "self %", "total", "total %"];
    cols.forEach((c) => head.append(el("th", "", c)));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    const t = this.view.tree;
    const k = diff && t ? t.k : 1;
    const all = p.meta.grand_total || 0;
    const n = p.meta.rows;
    const order = [...Array(n).keys()];
    if (diff) {
      const delta = (i) => a.new_self[i] - a.base_self[i] * k;
      order.sort((x, y) => Math.abs(delta(y)) - Math.abs(delta(x)));
    }
    for (const i of order.slice(0, 200)) {
      const tr = el("tr", "plf-row");
      const name = p.strings[a.name[i]];
      const fn = el("td", "plf-fn", name);
      fn.title = name; // the whole name, when the column elides it
      tr.append(fn);
      if (diff) {
        const b = a.base_self[i] * k;
        const nv = a.new_self[i];
        const d = nv - b;
        const st = STATUS[a.status[i]];
        tr.append(el("td", "", f(b)), el("td", "", f(nv)), el("td", d > 0 ? "plf-up" : d < 0 ? "plf-down" : "", `${d > 0 ? "+" : ""}${f(d)}`));
        tr.append(el("td", `plf-status-${st}`, st === "appeared" || st === "disappeared" ? st : b ? `${d >= 0 ? "+" : ""}${pct(d, b)}` : "–"));
      } else {
        tr.append(el("td", "", f(a.self[i])), el("td", "", pct(a.self[i], all)), el("td", "", f(a.total[i])), el("td", "", pct(a.total[i], all)));
      }
      tr.addEventListener("click", () => (this.host.tableClick ? this.host.tableClick(name) : this.searchExact(name)));
      tbody.append(tr);
    }
    tbl.append(thead, tbody);
    const title = el("summary", "plf-side-title", diff ? "self by function (base → new)" : "top functions by self (click: sandwich)");
    if (!this.host.tableClick && !diff) title.textContent = "top functions by self (click: search)";
    const wrap = el("div", "plf-table-wrap");
    wrap.append(tbl);
    this.side.replaceChildren(title, wrap);
  }

  searchExact(name) {
    const text = exactRegex(name);
    this.searchBox.value = text;
    this.setSearch(text);
  }

  hideSandwich() {
    const shown = this.main.querySelector(".plf-sandwich");
    if (shown) shown.remove();
    this.extra = null;
    this.view.root.style.display = "";
    this.view.draw(); // and afterDraw names the view again
  }

  /** Sandwich: callers (flame orientation, function at the bottom) above callees. */
  showSandwich(callers, callees, fn, onBack) {
    const shown = this.main.querySelector(".plf-sandwich");
    if (shown) shown.remove();
    this.view.root.style.display = "none";
    const wrap = el("div", "plf-sandwich");
    const bar = el("div", "plf-sandwich-bar");
    const back = el("button", "plf-back", "← flame graph");
    back.addEventListener("click", () => {
      this.hideSandwich();
      if (onBack) onBack();
    });
    bar.append(back, el("span", "plf-sandwich-title", `sandwich of ${fn}`));
    this.sandwichOf = fn;
    const up = new FlameView({ orientation: "flame", colorBy: this.view.opts.colorBy, onSelect: this.view.opts.onSelect });
    const down = new FlameView({ orientation: "icicle", colorBy: this.view.opts.colorBy, onSelect: this.view.opts.onSelect });
    up.root.classList.add("plf-callers");
    down.root.classList.add("plf-callees");
    wrap.append(bar, el("div", "plf-part", "callers"), up.root, el("div", "plf-part", "callees"), down.root);
    this.main.append(wrap);
    this.extra = [up, down];
    this.afterDraw();
    up.setTree(callers);
    down.setTree(callees);
  }
}

// ---- static HTML ----------------------------------------------------------------------------
export function mountStatic(container, data) {
  const tree = new Tree(decodePayload(base64ToBytes(data.tree)));
  const app = new App(container, { diff: tree.diff, orientation: "icicle" });
  app.setTree(tree, []);
  if (data.table) app.setTable(decodePayload(base64ToBytes(data.table)));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.activeElement !== app.view.canvas && e.target.tagName !== "INPUT") app.view.zoomOut();
  });
  window.__plfFirstPaint = performance.now();
  // for tests and debugging
  window.__plfModule = { Tree, decodePayload, base64ToBytes, packageColour, selfColour, diffColour, labelColour, contrast, shortenLabel };
  return app;
}

/** A regex matching exactly `name`, valid in JavaScript and in RE2 (pprof, the query core):
 * both treat the same characters as special outside a class. */
export function exactRegex(name) {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
}

// ---- anywidget ----------------------------------------------------------------------------
/** Functions called as ext({ model, app, save }) after a widget's App is built (files joined
 * after this one add theirs); each may return a cleanup function. */
const RENDER_EXTENSIONS = [];

function select(options, value, onChange, cls) {
  const s = el("select", cls);
  for (const v of options) {
    const o = el("option", "", v);
    o.value = v;
    s.append(o);
  }
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

function textInput(placeholder, value, onEnter, cls) {
  const i = el("input", cls);
  i.type = "text";
  i.placeholder = placeholder;
  i.value = value || "";
  i.addEventListener("keydown", (e) => {
    if (e.key === "Enter") onEnter(i.value);
  });
  i.addEventListener("change", () => onEnter(i.value));
  return i;
}

function widgetControls(model, diff) {
  const save = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const controls = [];
  const types = model.get("sample_types") || [];
  if (types.length > 1) controls.push(field("sample type", select(types, model.get("sample_type"), (v) => save("sample_type", v), "plf-sample-type")));
  controls.push(field("frames by", select(["function", "line", "file", "address"], model.get("granularity"), (v) => save("granularity", v), "plf-granularity")));
  if (!diff) {
    const views = [["flame", "flame graph"], ["inverted", "inverted"], ["sandwich", "sandwich"]];
    const view = choice(views, model.get("view") || "flame", (v) => {
      if (v === "sandwich" && !model.get("sandwich_function")) {
        const fn = model.get("focus");
        if (!fn) {
          view.value = model.get("view");
          model.set("error", "sandwich: click a frame or a row of the table first");
          model.save_changes();
          return;
        }
        model.set("sandwich_function", fn);
      }
      save("view", v);
    }, "plf-view-kind");
    model.on("change:view", () => (view.value = model.get("view")));
    controls.push(field("view", view));
    const choices = model.get("label_choices") || {};
    for (const key of Object.keys(choices)) {
      const current = (model.get("labels") || {})[key] || "";
      const s = select(["", ...choices[key]], current, (v) => {
        const labels = Object.assign({}, model.get("labels") || {});
        if (v) labels[key] = v;
        else delete labels[key];
        save("labels", labels);
      }, "plf-label");
      s.options[0].textContent = "any";
      controls.push(field(`label ${key}`, s));
    }
    controls.push(field("keep stacks with", textInput("regex", model.get("focus_regex"), (v) => save("focus_regex", v), "plf-focus")));
    controls.push(field("drop stacks with", textInput("regex", model.get("ignore_regex"), (v) => save("ignore_regex", v), "plf-ignore")));
  }
  return controls;
}

function render({ model, el: container }) {
  const diff = model.get("_kind") === "diff";
  const save = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const host = {
    diff,
    orientation: model.get("orientation") || "icicle",
    controls: widgetControls(model, diff),
    zoom: (path) => save("root", path),
    orient: (v) => save("orientation", v),
    select: (path, name) => {
      model.set("selected", path);
      model.set("focus", name);
      model.save_changes();
    },
    resized: (w) => save("width_px", Math.round(w)),
    diffMode: (m) => {
      model.set("normalize", m.normalize);
      model.set("width_by", m.widthBy);
      model.save_changes();
    },
    searched: (text) => save("search", text),
    searchShares: (text, path) => {
      const s = model.get("search_shares") || {};
      const same = s.search === text && JSON.stringify(s.root || []) === JSON.stringify(path);
      return same ? s : null;
    },
  };
  if (!diff) {
    host.tableClick = (name) => {
      model.set("sandwich_function", name);
      model.set("view", "sandwich");
      model.save_changes();
    };
  }
  const app = new App(container, host);
  const loadTree = () => {
    const buf = model.get("_tree");
    if (buf && buf.byteLength) app.setTree(new Tree(decodePayload(buf)), model.get("root"));
  };
  const loadTable = () => {
    const tbl = model.get("_table");
    if (tbl && tbl.byteLength) app.setTable(decodePayload(tbl));
  };
  const showError = () => (app.error.textContent = model.get("error") || "");
  const sandwich = () => {
    const a = model.get("_callers");
    const b = model.get("_callees");
    if (model.get("view") !== "sandwich") {
      if (app.extra) app.hideSandwich();
    } else if (a && a.byteLength && b && b.byteLength) {
      app.showSandwich(new Tree(decodePayload(a)), new Tree(decodePayload(b)), model.get("sandwich_function"), () => save("view", "flame"));
    }
  };
  model.on("change:_tree", loadTree);
  model.on("change:_table", loadTable);
  model.on("change:error", showError);
  model.on("change:_callers", sandwich);
  model.on("change:_callees", sandwich);
  model.on("change:view", sandwich);
  model.on("change:search_shares", () => app.renderSearchInfo());
  model.on("change:search", () => {
    const s = model.get("search") || "";
    if (s !== app.searchText) {
      app.searchBox.value = s;
      app.setSearch(s);
    }
  });
  loadTree();
  loadTable();
  showError();
  sandwich();
  if (model.get("search")) {
    app.searchBox.value = model.get("search");
    app.setSearch(model.get("search"));
  }
  requestAnimationFrame(() => {
    const w = Math.round(app.view.cssWidth());
    if (Math.abs(w - model.get("width_px")) > 4) save("width_px", w);
  });
  const cleanups = RENDER_EXTENSIONS.map((ext) => ext({ model, app, save }));
  return () => {
    app.resizer.disconnect();
    for (const c of cleanups) if (c) c();
  };
}

export default { render };

// profilelab call-tree transforms in the FlameGraph widget: a frame's context menu and the
// list of applied transforms as removable chips.
//
// Joined after flame.js by profilelab/widgets/flamegraph.py (el, exactRegex and
// RENDER_EXTENSIONS come from there). The menu only appends [name, argument] pairs to the
// `transforms` trait, with the names and arguments of profilelab/core/transforms.py; Python
// applies them through the query core and sends the new tree. Function names and label
// values are untrusted: they are only ever assigned with textContent or as attribute values.

/** What a frame's menu offers: [transform name, label, what it does]. */
const TX_FRAME_ITEMS = [
  ["merge_function", "Merge function", "remove this function from every stack; its time goes to its callers"],
  ["merge_call_node", "Merge this call node", "remove only this call path's frame; its time goes to its caller"],
  ["focus_function", "Focus on function", "only samples through it, with it as the root (all its calls merged)"],
  ["focus_subtree", "Focus on subtree", "only samples through this call path, rooted at this frame"],
  ["drop_function", "Drop samples with this function", "remove every sample whose stack has it"],
  ["collapse_recursion", "Collapse recursion", "direct and indirect recursion of it becomes one call"],
  ["collapse_direct_recursion", "Collapse direct recursion only", "it calling itself directly becomes one call"],
  ["collapse_package", "Collapse package", "consecutive frames of its package become one frame"],
];
const TX_PATH_ITEMS = new Set(["merge_call_node", "focus_subtree"]);

/** The transform list as the trait holds it: [[name, argument or null], ...]. */
function txList(model) {
  return (model.get("transforms") || []).map((t) => [String(t[0]), t.length > 1 ? t[1] : null]);
}

/** A regex for a frame's package (the colouring's guess): `^net/http\b`, "" if none. */
export function packageRegex(pkg) {
  if (!pkg) return "";
  const exact = exactRegex(pkg).slice(0, -1); // drop "$": the package is a name's prefix
  return /\w$/.test(pkg) ? `${exact}\\b` : exact;
}

/** What a chip shows for an argument: the name an exact regex matches, a path with "›". */
export function txArgText(name, arg) {
  if (arg === null || arg === undefined) return "";
  const m = /^\^(.*)\$$/s.exec(arg);
  if (m) {
    const plain = m[1].replace(/\\(.)/gs, "$1");
    if (exactRegex(plain) === arg) return plain;
  }
  const pkg = /^\^(.*?)(\\b)?$/s.exec(arg);
  if (name === "collapse_package" && pkg) {
    const plain = pkg[1].replace(/\\(.)/gs, "$1");
    if (packageRegex(plain) === arg) return plain;
  }
  if (TX_PATH_ITEMS.has(name)) return arg.split(";").join(" › ");
  return arg;
}

/** Whether node i is a frame (not "all", not an "other" node). A payload re-rooted at a
 * zoomed frame has that frame as node 0. */
function txIsFrame(t, i) {
  return !!t && i >= 0 && (i > 0 || t.meta.root_path.length > 0) && !t.other[i];
}

/** The menu entries for node i of the main view: [{spec, label, help, disabled, checked}]. */
export function txMenuEntries(view, i, opts) {
  const t = view.tree;
  const out = [];
  const node = txIsFrame(t, i) ? i : -1;
  const byFunction = opts.granularity === "function" || opts.granularity === "functions";
  if (node >= 0) {
    const name = t.nameOf(node);
    const path = t.absPath(node);
    const pkg = t.strings[t.strPackage[t.name[node]]];
    for (const [tx, label, help] of TX_FRAME_ITEMS) {
      let arg = exactRegex(name);
      let why = byFunction ? "" : "frame transforms work on functions: set “frames by” to function";
      if (TX_PATH_ITEMS.has(tx)) {
        arg = path.join(";");
        if (!why && opts.inverted) why = "a call path is root first: not in the inverted view";
        if (!why && path.some((n) => n.includes(";"))) why = "a name on this path contains “;”";
      }
      let text = label;
      if (tx === "collapse_package") {
        arg = packageRegex(pkg);
        if (!why && !arg) why = "no package known for this function";
        if (pkg) text = `${label} ${pkg}`;
      }
      out.push({ spec: [tx, arg], label: text, help: why || help, disabled: !!why });
    }
  }
  const heavy = opts.transforms.some((t) => t[0] === "left_heavy");
  out.push({ spec: ["left_heavy", null], label: "Order heaviest first (left-heavy)", help: "siblings by value, heaviest first, instead of by name", checked: heavy, separator: true });
  let first = true;
  for (const key of opts.labelKeys) {
    for (const [tx, where] of [["tagroot", "root"], ["tagleaf", "leaf"]]) {
      out.push({ spec: [tx, key], label: `Label ${key} as ${where} frames`, help: `a frame per value of the label ${key} at the ${where} of each stack (pprof -${tx})`, separator: first });
      first = false;
    }
  }
  return out;
}

class TransformMenu {
  constructor(app, model, save) {
    this.app = app;
    this.model = model;
    this.save = save;
    this.menu = null;
    this.pendingFocus = -1;
    this.bar = el("div", "plf-transforms");
    this.bar.setAttribute("aria-label", "call-tree transforms");
    this.notes = el("div", "plf-transform-notes");
    this.notes.setAttribute("role", "status");
    this.command = el("details", "plf-command");
    app.root.insertBefore(this.bar, app.crumbs);
    app.root.insertBefore(this.notes, app.crumbs);
    app.root.insertBefore(this.command, app.crumbs);
    const canvas = app.view.canvas;
    this.onContext = (e) => {
      e.preventDefault();
      e.stopPropagation(); // JupyterLab opens its own menu on a contextmenu that bubbles up
      if (performance.now() - (this.keyOpened || -1e9) < 500) return; // the menu key's own event
      const i = app.view.nodeAt(e);
      this.open(i < 0 ? app.view.zoomNode : i, e.clientX, e.clientY, false);
    };
    this.onKey = (e) => {
      if (e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey)) {
        e.preventDefault();
        e.stopPropagation();
        const i = this.current();
        const [x, y] = this.nodePoint(i);
        this.open(i, x, y, true);
        this.keyOpened = performance.now();
      } else if (this.moveCursor(e.key)) {
        e.preventDefault();
      } else if (e.key === "Enter" && this.cursor >= 0) {
        e.preventDefault();
        const v = app.view;
        if (v.opts.onSelect) v.opts.onSelect(v.tree.absPath(this.cursor), v.tree.nameOf(this.cursor), v);
        v.zoom(this.cursor);
      }
    };
    // the keyboard's frame: arrows move it, outlined over the canvas and named for readers
    this.cursor = -1;
    this.cursorBox = el("div", "plf-cursor");
    this.cursorText = el("div", "plf-sr");
    this.cursorText.setAttribute("aria-live", "polite");
    app.view.root.append(this.cursorBox, this.cursorText);
    const drawn = app.view.opts.onDraw;
    app.view.opts.onDraw = (view) => {
      if (drawn) drawn(view);
      this.placeCursor();
    };
    app.view.scroller.addEventListener("scroll", () => this.placeCursor());
    this.onOutside = (e) => {
      if (this.menu && !this.menu.contains(e.target)) this.close(false);
    };
    this.onScroll = (e) => {
      if (this.menu && !this.menu.contains(e.target)) this.close(false);
    };
    canvas.addEventListener("contextmenu", this.onContext);
    canvas.addEventListener("keydown", this.onKey);
    document.addEventListener("mousedown", this.onOutside, true);
    window.addEventListener("scroll", this.onScroll, true);
    window.addEventListener("resize", this.onScroll);
    for (const key of ["transforms", "transform_notes", "command"]) model.on(`change:${key}`, () => this.renderBar());
    for (const key of ["_tree", "error"]) model.on(`change:${key}`, () => this.settled());
    this.renderBar();
  }

  dispose() {
    this.close(false);
    document.removeEventListener("mousedown", this.onOutside, true);
    window.removeEventListener("scroll", this.onScroll, true);
    window.removeEventListener("resize", this.onScroll);
  }

  // ---- the keyboard's frame ---------------------------------------------------------------
  /** The frame the keyboard works on: the arrow keys' frame, else the zoomed one. */
  current() {
    const v = this.app.view;
    return this.cursor >= 0 && this.cursorTree === v.tree ? this.cursor : v.zoomNode;
  }

  /** Arrow keys: deeper/shallower (as drawn: the icicle grows down, the flame up) and the
   * previous/next sibling wide enough to see. Returns whether the key moved the frame. */
  moveCursor(key) {
    const v = this.app.view;
    const t = v.tree;
    if (!t || !["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(key)) return false;
    let i = this.current();
    const flame = v.opts.orientation === "flame";
    const seen = (j) => t.width[j] * v.scale >= 0.5 && v.inZoom(j);
    if (key === (flame ? "ArrowUp" : "ArrowDown")) {
      const c0 = t.firstChild[i];
      for (let c = c0; c >= 0 && c < c0 + t.childCount[i]; c++) if (seen(c)) return this.setCursor(c);
    } else if (key === (flame ? "ArrowDown" : "ArrowUp")) {
      if (i !== v.zoomNode && i > 0) return this.setCursor(t.parent[i]);
    } else if (i !== v.zoomNode && i > 0) {
      const d = key === "ArrowRight" ? 1 : -1;
      const p = t.parent[i];
      const end = t.firstChild[p] + t.childCount[p];
      for (let j = i + d; j >= t.firstChild[p] && j < end; j += d) if (seen(j)) return this.setCursor(j);
    }
    return true; // at an edge: stay (and keep the page from scrolling)
  }

  setCursor(i) {
    this.cursor = i;
    this.cursorTree = this.app.view.tree;
    this.placeCursor();
    const t = this.cursorTree;
    const name = t.other[i] ? `${t.other[i]} folded frames` : t.nameOf(i);
    this.cursorText.textContent = `${name}: ${formatValue(t.total[i], t.meta.unit)}`;
    return true;
  }

  placeCursor() {
    const v = this.app.view;
    const box = this.cursorBox;
    if (this.cursor < 0 || this.cursorTree !== v.tree || !v.inZoom(this.cursor)) {
      box.style.display = "none";
      return;
    }
    const t = v.tree;
    const i = this.cursor;
    const row = t.depth[i] - t.depth[v.zoomNode];
    const y = (v.opts.orientation === "flame" ? v.rows - 1 - row : row) * ROW;
    const top = v.canvas.offsetTop - v.scroller.scrollTop;
    Object.assign(box.style, {
      display: "block",
      left: `${v.canvas.offsetLeft + (t.start[i] - t.start[v.zoomNode]) * v.scale}px`,
      top: `${top + y}px`,
      width: `${Math.max(2, t.width[i] * v.scale - 1)}px`,
      height: `${ROW - 1}px`,
    });
  }

  /** Viewport point of node i's left edge, middle of its row (where a keyboard menu opens). */
  nodePoint(i) {
    const v = this.app.view;
    const t = v.tree;
    const r = v.canvas.getBoundingClientRect();
    if (!t) return [r.left, r.top];
    const row = t.depth[i] - t.depth[v.zoomNode];
    const y = (v.opts.orientation === "flame" ? v.rows - 1 - row : row) * ROW + ROW / 2;
    return [r.left + Math.max(0, (t.start[i] - t.start[v.zoomNode]) * v.scale) + 8, r.top + y];
  }

  // ---- the menu -------------------------------------------------------------------------
  /** The menu entries for node i of the main view, given the widget's current state. */
  entries(i) {
    const m = this.model;
    return txMenuEntries(this.app.view, i, {
      granularity: m.get("granularity"),
      inverted: m.get("view") === "inverted",
      transforms: txList(m),
      labelKeys: Object.keys(m.get("label_choices") || {}),
    });
  }

  open(i, x, y, fromKeyboard) {
    this.close(false);
    const v = this.app.view;
    if (!v.tree || this.app.extra) return; // the sandwich has no menu
    v.tip.style.display = "none"; // the menu replaces the hovered frame's tooltip
    const entries = this.entries(i);
    const menu = el("div", "plf-menu");
    menu.setAttribute("role", "menu");
    const title = txIsFrame(v.tree, i) ? v.tree.nameOf(i) : "all samples";
    menu.setAttribute("aria-label", `transforms for ${title}`);
    const head = el("div", "plf-menu-title", title);
    head.title = title;
    menu.append(head);
    const buttons = [];
    for (const entry of entries) {
      if (entry.separator) menu.append(el("div", "plf-menu-sep"));
      const b = el("button", "plf-menu-item");
      b.type = "button";
      b.dataset.transform = entry.spec[0];
      b.setAttribute("role", entry.checked === undefined ? "menuitem" : "menuitemcheckbox");
      if (entry.checked !== undefined) b.setAttribute("aria-checked", String(entry.checked));
      b.tabIndex = -1;
      b.append(el("span", "plf-menu-check", entry.checked ? "✓" : ""), el("span", "plf-menu-label", entry.label));
      b.title = entry.help;
      if (entry.disabled) {
        b.setAttribute("aria-disabled", "true");
        b.classList.add("plf-menu-disabled");
      } else {
        b.addEventListener("click", () => this.choose(entry));
        b.addEventListener("mouseenter", () => b.focus({ preventScroll: true })); // one highlight
      }
      menu.append(b);
      buttons.push(b);
    }
    menu.addEventListener("keydown", (e) => this.menuKey(e, buttons));
    this.menu = menu;
    this.app.root.append(menu);
    this.place(menu, x, y);
    const first = buttons.find((b) => !b.classList.contains("plf-menu-disabled")) || buttons[0];
    if (first) first.focus({ preventScroll: true });
    this.fromKeyboard = fromKeyboard;
  }

  /** Put the menu's corner at viewport point (x, y), kept inside the window: near the
   * right or bottom edge it opens to the left or upwards. */
  place(menu, x, y) {
    const w = menu.offsetWidth;
    const h = menu.offsetHeight;
    const vw = document.documentElement.clientWidth || window.innerWidth;
    const vh = window.innerHeight;
    let left = x + w + 4 > vw ? x - w : x;
    let top = y + h + 4 > vh ? y - h : y;
    left = Math.max(4, Math.min(left, vw - w - 4));
    top = Math.max(4, Math.min(top, vh - h - 4));
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
    // an ancestor with a transform or containment moves "fixed": correct by what we got
    const got = menu.getBoundingClientRect();
    if (Math.abs(got.left - left) > 0.5 || Math.abs(got.top - top) > 0.5) {
      menu.style.left = `${2 * left - got.left}px`;
      menu.style.top = `${2 * top - got.top}px`;
    }
  }

  menuKey(e, buttons) {
    const k = buttons.indexOf(document.activeElement);
    const ok = (b) => !b.classList.contains("plf-menu-disabled");
    const step = (d) => {
      for (let n = 1; n <= buttons.length; n++) {
        const b = buttons[(((k + d * n) % buttons.length) + buttons.length) % buttons.length];
        if (ok(b)) return b.focus();
      }
    };
    if (e.key === "ArrowDown") step(1);
    else if (e.key === "ArrowUp") step(-1);
    else if (e.key === "Home") (buttons.find(ok) || buttons[0]).focus();
    else if (e.key === "End") ([...buttons].reverse().find(ok) || buttons[buttons.length - 1]).focus();
    else if (e.key === "Escape" || e.key === "Tab") this.close(true);
    else return;
    e.preventDefault();
    e.stopPropagation();
  }

  close(refocus) {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    if (refocus) this.app.view.canvas.focus({ preventScroll: true });
  }

  choose(entry) {
    const list = txList(this.model);
    const [name] = entry.spec;
    let next;
    if (name === "left_heavy") next = entry.checked ? list.filter((t) => t[0] !== "left_heavy") : [...list, entry.spec];
    else next = [...list, entry.spec];
    this.close(true);
    this.apply(next);
  }

  apply(next) {
    this.busy = true;
    this.bar.classList.add("plf-busy");
    this.save("transforms", next);
    this.renderBar();
  }

  settled() {
    if (!this.busy) return;
    this.busy = false;
    this.bar.classList.remove("plf-busy");
    this.renderBar();
  }

  // ---- the chips ------------------------------------------------------------------------
  renderBar() {
    const list = txList(this.model);
    const notes = this.model.get("transform_notes") || [];
    const items = [el("span", "plf-transforms-title", "transforms")];
    if (!list.length) {
      items.push(el("span", "plf-transforms-hint", "none: right-click a frame (or Shift+F10 on the graph) to merge, focus, drop or collapse"));
    }
    list.forEach(([name, arg], k) => {
      const chip = el("span", "plf-chip");
      chip.dataset.transform = name;
      const shown = txArgText(name, arg);
      const text = el("span", "plf-chip-text");
      text.append(el("span", "plf-chip-name", `${k + 1}. ${name.replace(/_/g, " ")}`));
      if (shown) text.append(" ", el("span", "plf-chip-arg", shown));
      chip.title = `${name}${arg === null ? "" : ` ${arg}`}${notes[k] ? `\n${notes[k]}` : ""}`;
      if (notes[k]) chip.classList.add("plf-chip-inert");
      const remove = el("button", "plf-chip-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", `remove transform ${k + 1}: ${name.replace(/_/g, " ")} ${shown}`);
      remove.title = "remove this transform (the others stay)";
      remove.addEventListener("click", () => {
        this.pendingFocus = k;
        this.apply(list.filter((_, j) => j !== k));
      });
      chip.append(text, remove);
      items.push(chip);
    });
    if (list.length > 1) {
      const clear = el("button", "plf-chip-clear", "remove all");
      clear.type = "button";
      clear.addEventListener("click", () => this.apply([]));
      items.push(clear);
    }
    if (this.busy) items.push(el("span", "plf-transforms-busy", "applying…"));
    this.bar.replaceChildren(...items);
    this.notes.replaceChildren(...notes.map((n, k) => (n ? el("div", "", `⚠ transform ${k + 1}: ${n}`) : null)).filter(Boolean));
    const cmd = this.model.get("command") || "";
    this.command.replaceChildren();
    if (list.length && cmd) this.command.append(el("summary", "plf-command-label", "command line of this view"), el("code", "", cmd));
    if (this.pendingFocus >= 0) {
      const buttons = this.bar.querySelectorAll(".plf-chip-remove");
      const target = buttons[Math.min(this.pendingFocus, buttons.length - 1)];
      if (target) target.focus({ preventScroll: true });
      else this.app.view.canvas.focus({ preventScroll: true });
      if (!this.busy) this.pendingFocus = -1;
    }
  }
}

RENDER_EXTENSIONS.push(({ model, app, save }) => {
  if (model.get("_kind") === "diff") return null;
  const menu = new TransformMenu(app, model, save);
  app.transformMenu = menu; // for tests and debugging
  return () => menu.dispose();
});

export default { render };

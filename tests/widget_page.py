"""Anywidget ESM modules in headless Chromium without a kernel: a small model per widget
that sends ``save_changes`` to the Python widget (a Playwright binding) and takes the
Python widget's state back on :meth:`WidgetPage.push`. The front end's own code runs
unchanged; only Jupyter's comm is replaced."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

HTML = """<!doctype html><html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="margin:0;background:#fff">{divs}<script type="module">
const unpack = (v) => (v && v.$b64 !== undefined
  ? Uint8Array.from(atob(v.$b64), (c) => c.charCodeAt(0)) : v);
class Model {{
  constructor(name, state) {{ this.name = name; this.raw = state; this.h = {{}}; this.out = {{}};
    this.s = {{}}; for (const k in state) this.s[k] = unpack(state[k]); }}
  get(k) {{ return this.s[k]; }}
  set(k, v) {{ this.s[k] = v; this.out[k] = v; this.raw[k] = JSON.parse(JSON.stringify(v)); }}
  on(ev, f) {{ (this.h[ev] = this.h[ev] || []).push(f); }}
  async save_changes() {{
    const out = this.out; this.out = {{}};
    await window.__sync(this.name, JSON.stringify(out));
    window.__synced = (window.__synced || 0) + 1;
  }}
  push(state) {{
    for (const k in state) {{
      if (JSON.stringify(state[k]) === JSON.stringify(this.raw[k])) continue;
      this.raw[k] = state[k]; this.s[k] = unpack(state[k]);
      for (const f of this.h["change:" + k] || []) f();
    }}
  }}
}}
window.__models = {{}};
const specs = {specs};
for (const [name, src, state] of specs) {{
  const url = URL.createObjectURL(new Blob([src], {{type: "text/javascript"}}));
  const mod = (await import(url)).default;
  const model = new Model(name, state);
  window.__models[name] = model;
  mod.render({{model, el: document.getElementById(name)}});
}}
window.__ready = true;
</script></body></html>"""


def _asset(value: Any) -> str:
    """A widget's ``_esm``/``_css``: a path (read it) or the text itself."""
    return value.read_text(encoding="utf-8") if isinstance(value, Path) else str(value)


def _state(widget: Any) -> dict[str, Any]:
    out = {}
    for key, value in widget.get_state().items():
        if isinstance(value, bytes | memoryview):
            out[key] = {"$b64": base64.b64encode(bytes(value)).decode()}
        else:
            out[key] = value
    return out


class WidgetPage:
    """Widgets drawn side by side in one page, ``width`` CSS pixels wide."""

    def __init__(self, browser: Any, widgets: dict[str, Any], width: int = 1200) -> None:
        self.widgets = widgets
        self.page = browser.new_page(viewport={"width": width + 40, "height": 1000})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.expose_function("__sync", self._sync)
        css = "".join(_asset(w._css) for w in widgets.values())
        divs = "".join(f'<div id="{n}" style="width:{width}px"></div>' for n in widgets)
        specs = [[n, _asset(w._esm), _state(w)] for n, w in widgets.items()]
        # "</" inside the JSON would close the script element: escape it as JSON allows
        text = json.dumps(specs).replace("</", "<\\/")
        self.page.set_content(HTML.format(css=css, divs=divs, specs=text))
        self.page.wait_for_function("window.__ready === true", timeout=15_000)

    def _sync(self, name: str, changes: str) -> None:
        widget = self.widgets[name]
        for key, value in json.loads(changes).items():
            setattr(widget, key, value)

    def push(self) -> None:
        """Send every widget's current Python state to its front end (changed keys fire)."""
        for name, widget in self.widgets.items():
            self.page.evaluate("([n, s]) => window.__models[n].push(s)", [name, _state(widget)])

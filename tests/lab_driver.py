"""Run notebook cells in a real JupyterLab from headless Chromium, without races, and say
what the page showed when a wait runs out.

The JupyterLab servers of the tests start with :data:`LAB_ARGS`, so the page has
``window.jupyterapp``. :func:`wait_for_kernel` waits for the precise condition a cell
needs, the shown notebook's kernel connected and idle; :func:`run_cells` then runs cells
with JupyterLab's own ``notebook:run-cell`` command and checks that each one ran.

The tests used to wait for the execution indicator to say "idle", click the first cell and
press Shift+Enter once per cell. That was racy: the indicator's model starts as "idle"
before the notebook has a session (it shows the kernel's status only from the session's
first status signal on), and a cell run while the session has no kernel yet is skipped
without a word (JupyterLab's ``CodeCell.execute`` clears it and returns; JupyterLab issue
8490). When the server was slow to answer the session list, the presses landed in that
moment, no cell ran, and the test waited 180 s for a widget that nothing had asked for
(CI, December 2026). A key press also needs the keyboard focus inside the notebook.

:func:`lab_page` turns a Playwright error (a wait that ran out) or a cell that did not run
into a failure that reports a screenshot, the page's console errors, every open
notebook's kernel and cells, JupyterLab's dialogs and notifications, the server's
sessions and the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
#: JupyterLab options the tests' servers start with: ``window.jupyterapp`` for the driver
LAB_ARGS = ["--LabApp.expose_app_in_browser=True"]


class Server(Protocol):
    """A running JupyterLab server: its address, token and log file."""

    @property
    def base(self) -> str: ...
    @property
    def token(self) -> str: ...
    @property
    def log(self) -> Path: ...


class CellsDidNotRun(AssertionError):
    """JupyterLab's run command finished but a cell has no execution count or failed."""


#: JS: the notebook panel shown in the main area (JupyterLab keeps other open ones hidden)
_SHOWN = (
    "[...window.jupyterapp.shell.widgets('main')]"
    ".find((w) => w.isVisible && w.sessionContext && w.content && w.content.widgets)"
)

#: JS: "ready" once the shown notebook's kernel is connected and idle, "select kernel" while
#: JupyterLab asks which kernel to start (it can, on a busy machine, before the kernel
#: specs arrive), otherwise false
KERNEL_READY = f"""() => {{
  const panel = window.jupyterapp && window.jupyterapp.shell && {_SHOWN};
  const sc = panel && panel.sessionContext, k = sc && sc.session && sc.session.kernel;
  if (sc && sc.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle')
    return 'ready';
  const dialog = document.querySelector('.jp-Dialog');
  return dialog && dialog.textContent.includes('Select Kernel') ? 'select kernel' : false;
}}"""

#: JS: run the shown notebook's cells ``indices`` one after the other with JupyterLab's
#: command, up to the first that fails (as Shift+Enter on each does, without the keyboard);
#: ``window.__labRun`` says when it is done
RUN = f"""(indices) => {{
  const panel = {_SHOWN}, nb = panel.content;
  const run = window.__labRun = {{done: false, results: [], error: null}};
  (async () => {{
    for (const i of indices) {{
      nb.activeCellIndex = i;
      nb.deselectAll();
      const ok = await window.jupyterapp.commands.execute(
        'notebook:run-cell', {{widgetId: panel.id, activate: false}});
      run.results.push(ok);
      if (!ok) break;
    }}
  }})().catch((e) => {{ run.error = String(e); }}).finally(() => {{ run.done = true; }});
}}"""

#: JS: what the page shows: open notebooks with their kernels and cells, dialogs,
#: notifications and the element with the keyboard focus
PAGE_STATE = """() => {
  const text = (e, n) => (e.innerText || e.textContent || '').trim().slice(0, n);
  const output = (o) => o.output_type === 'error' ? `error ${o.ename}: ${o.evalue}`
    : o.output_type === 'stream' ? `${o.name}: ${String(o.text).slice(-300)}`
    : `${o.output_type} ${Object.keys(o.data || {}).join(', ')}`;
  const f = document.activeElement;
  const state = {
    app: Boolean(window.jupyterapp && window.jupyterapp.shell),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map((d) => text(d, 400)),
    notifications: [...document.querySelectorAll('.Toastify__toast')].map((t) => text(t, 300)),
    focus: f ? `${f.tagName.toLowerCase()}.${String(f.className).split(' ').join('.')}` : '',
    notebooks: [],
  };
  if (!state.app) return state;
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (!w.sessionContext || !w.content || !w.content.widgets) continue;
    const sc = w.sessionContext, k = sc.session && sc.session.kernel;
    state.notebooks.push({
      path: w.context.path, shown: w.isVisible, mode: w.content.mode,
      active: w.content.activeCellIndex,
      kernel: k ? `${k.name} ${k.connectionStatus}/${k.status}`
                : `none (session: ${sc.kernelDisplayStatus})`,
      cells: w.content.widgets.map((c) => ({
        type: c.model.type,
        count: c.model.type === 'code' ? c.model.executionCount : null,
        running: c.model.type === 'code' && c.model.executionState === 'running',
        outputs: c.model.type === 'code' ? c.model.outputs.toJSON().map(output) : [],
        shown: text(c.node.querySelector('.jp-OutputArea') || c.node, 300),
      })),
    });
  }
  return state;
}"""


def wait_for_kernel(page: Any, timeout: float | None = None) -> None:
    """Wait until the shown notebook's kernel is connected and idle, accepting JupyterLab's
    "Select Kernel" dialog (its preselected choice is the notebook's kernel) if it asks;
    ``timeout`` (ms) for each wait, the page's default without it."""
    while page.wait_for_function(KERNEL_READY, timeout=timeout).json_value() != "ready":
        page.locator(".jp-Dialog button.jp-mod-accept").click()
        page.locator(".jp-Dialog").wait_for(state="detached")


def run_cells(page: Any, indices: Sequence[int], timeout: float | None = None) -> None:
    """Run the shown notebook's cells ``indices`` in order, as Shift+Enter on each would,
    once its kernel is ready; raise :class:`CellsDidNotRun` unless each code cell ran
    without an error. ``timeout`` (ms) for each wait, the page's default without it."""
    wait_for_kernel(page, timeout)
    page.evaluate(RUN, list(indices))
    page.wait_for_function("() => window.__labRun.done", timeout=timeout)
    run = page.evaluate("() => window.__labRun")
    shown = next(n for n in page.evaluate(PAGE_STATE)["notebooks"] if n["shown"])
    missed = [
        i
        for i in indices
        if shown["cells"][i]["type"] == "code" and shown["cells"][i]["count"] is None
    ]
    if run["error"] or not all(run["results"]) or missed:
        raise CellsDidNotRun(
            f"running cells {list(indices)} of {shown['path']}: results {run['results']}, "
            f"error {run['error']}, cells without an execution count {missed}"
        )


@contextlib.contextmanager
def lab_page(browser: Any, server: Server, name: str, **options: Any) -> Iterator[Any]:
    """A new page (``browser.new_page(**options)``) that records the console's errors; a
    Playwright error or :class:`CellsDidNotRun` inside the block fails the test with what
    the page showed (:func:`describe`), and a screenshot as ``tests/artifacts/NAME-failed.png``."""
    from playwright.sync_api import Error as PlaywrightError

    page = browser.new_page(**options)
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    try:
        yield page
    except (PlaywrightError, CellsDidNotRun) as exc:
        report = describe(page, server, name, console)
        pytest.fail(f"{str(exc).strip()}\n\n{report}", pytrace=True)
    finally:
        with contextlib.suppress(PlaywrightError):
            page.close()


def describe(page: Any, server: Server, name: str, console: list[str]) -> str:
    """What the page and the server showed: the failure report of :func:`lab_page`."""
    from playwright.sync_api import Error as PlaywrightError

    lines = []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}-failed.png"
    try:
        page.screenshot(path=str(shot), timeout=20_000)
        lines.append(f"screenshot: {shot}")
    except PlaywrightError as exc:
        lines.append(f"no screenshot: {str(exc).splitlines()[0]}")
    try:  # (a wait, unlike evaluate, gives up when the page's script hangs)
        state = page.wait_for_function(f"({PAGE_STATE})()", timeout=20_000).json_value()
        lines += _page_lines(state)
    except PlaywrightError as exc:
        lines.append(f"the page did not answer: {str(exc).splitlines()[0]}")
    lines.append(f"console errors ({len(console)}):")
    lines += [f"  {c[:500]}" for c in console[-20:]]
    lines += _server_lines(server)
    return "\n".join(lines)


def _page_lines(state: dict[str, Any]) -> list[str]:
    if not state["app"]:
        return ["JupyterLab has not started in the page (no window.jupyterapp)"]
    lines = [f"keyboard focus: {state['focus']}"]
    lines += [f"dialog: {d!r}" for d in state["dialogs"]]
    lines += [f"notification: {n!r}" for n in state["notifications"]]
    for nb in state["notebooks"]:
        lines.append(
            f"notebook {nb['path']} ({'shown' if nb['shown'] else 'hidden'}, {nb['mode']} mode, "
            f"active cell {nb['active']}): kernel {nb['kernel']}"
        )
        for i, cell in enumerate(nb["cells"]):
            count = "*" if cell["running"] else cell["count"] if cell["count"] is not None else " "
            prompt = f"[{count}]" if cell["type"] == "code" else cell["type"]
            lines.append(f"  cell {i} {prompt} outputs {cell['outputs']} shows {cell['shown']!r}")
    return lines


def _server_lines(server: Server) -> list[str]:
    lines = []
    try:
        url = f"{server.base}/api/sessions?token={server.token}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            sessions = json.load(answer)
        for s in sessions:
            k = s.get("kernel") or {}
            lines.append(
                f"server session {s.get('path')}: kernel {k.get('name')} "
                f"{k.get('execution_state')}, last activity {k.get('last_activity')}"
            )
    except OSError as exc:
        lines.append(f"the server did not list its sessions: {exc}")
    tail = server.log.read_text(errors="replace").splitlines()[-40:] if server.log.exists() else []
    lines.append(f"server log {server.log} (last {len(tail)} lines):")
    lines += [f"  {re.sub(r'token=[0-9a-f]+', 'token=…', t)}" for t in tail]
    return lines

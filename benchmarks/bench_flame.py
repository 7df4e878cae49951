"""Flame-graph benchmark on the 1M-sample profile: first paint, zoom repaint, export size.

usage: python benchmarks/bench_flame.py [PROFILE] [--generate]

PROFILE defaults to /tmp/big.pb.gz; with --generate it is made first by the shared
generator (../shared/bench/gen_profile.py --samples 1000000 --stacks 200000
--functions 30000 --seed 2). Loading the profile is timed but is not part of first paint:
first paint = tree build + HTML export (Python) + page load to the first drawn canvas
(headless Chromium). Each number is printed beside its budget as a ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import profilelab  # noqa: E402
from profilelab.render.flame_html import flame_html, write  # noqa: E402
from profilelab.views import Selection  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench"
BUDGET = {"first_paint_s": 1.5, "zoom_ms": 150.0, "html_mb": 5.0}
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def generate(out: Path) -> None:
    gen = Path(tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SHARED}", f"--python_out={gen}",
         str(SHARED / "profile.proto")],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, str(SHARED / "gen_profile.py"), str(out), "--samples", "1000000",
         "--stacks", "200000", "--functions", "30000", "--seed", "2"],
        check=True,
        env={"PYTHONPATH": str(gen), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def browser_numbers(html: Path, clicks: int = 8) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(html.as_uri())
        page.wait_for_function("window.__plfFirstPaint !== undefined", timeout=60_000)
        paint_ms = page.evaluate("window.__plfFirstPaint")
        page.evaluate(
            """() => { const c = document.querySelector('.plf-canvas');
            c.addEventListener('click', () => { window.__t0 = performance.now();
              requestAnimationFrame(() => { window.__tPaint = performance.now(); }); }, true); }"""
        )
        zooms = []
        for k in range(clicks):
            # click the widest child of the current zoom root (or zoom back out with Escape)
            target = page.evaluate(
                """() => { const v = window.__plf[0].view, t = v.tree, z = v.zoomNode;
                let best = -1;
                for (let i = t.firstChild[z]; i >= 0 && i < t.firstChild[z] + t.childCount[z]; i++)
                  if (!t.other[i] && (best < 0 || t.width[i] > t.width[best])) best = i;
                if (best < 0) return null;
                const r = v.canvas.getBoundingClientRect();
                return {x: r.left + (t.start[best] - t.start[z] + t.width[best] / 2) * v.scale,
                        y: r.top + (t.depth[best] - t.depth[z]) * 18 + 9}; }"""
            )
            if target is None or k == clicks // 2:
                page.keyboard.press("Escape")
                page.keyboard.press("Escape")
                continue
            page.evaluate("() => { window.__tPaint = undefined; }")
            page.mouse.click(target["x"], target["y"])
            page.wait_for_function("window.__tPaint !== undefined")
            zooms.append(page.evaluate("window.__tPaint - window.__t0"))
        browser.close()
    return {"page_first_paint_ms": paint_ms, "zoom_ms_median": statistics.median(zooms),
            "zoom_ms_max": max(zooms)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", default="/tmp/big.pb.gz", type=Path)
    ap.add_argument("--generate", action="store_true")
    args = ap.parse_args()
    if not args.profile.exists():
        if not args.generate:
            sys.exit(f"{args.profile} is missing: run with --generate")
        generate(args.profile)
    t = time.perf_counter()
    prof = profilelab.load(args.profile)
    load_s = time.perf_counter() - t
    print(f"load: {load_s:.2f} s  ({prof})")

    # The path of `profilelab flame` and FlameGraph.to_html: selection, tree, page.
    t = time.perf_counter()
    out = Path(tempfile.mkdtemp()) / "bench_flame.html"
    write(out, flame_html(prof))
    export_s = time.perf_counter() - t
    size_mb = out.stat().st_size / 1e6
    # The widget's path: the visible tree at 1200 px, then a zoom that needs a re-query.
    t = time.perf_counter()
    sel = Selection(prof)
    tree = sel.flame()
    tree_s = time.perf_counter() - t
    t = time.perf_counter()
    sel.flame(root=tree.path(int(tree.width[1:].argmax()) + 1))
    requery_ms = (time.perf_counter() - t) * 1e3
    b = browser_numbers(out)
    first_paint = export_s + b["page_first_paint_ms"] / 1e3
    print(f"HTML export (selection, tree to budget, top table, page): {export_s:.3f} s")
    print(f"widget: selection + visible tree ({len(tree)} nodes): {tree_s:.3f} s")
    print(f"page load to first drawn canvas: {b['page_first_paint_ms']:.0f} ms")
    print(
        f"first paint after load: {first_paint:.2f} s "
        f"(budget {BUDGET['first_paint_s']} s, ratio {first_paint / BUDGET['first_paint_s']:.2f})"
    )
    print(
        f"zoom click to repaint: median {b['zoom_ms_median']:.1f} ms, "
        f"max {b['zoom_ms_max']:.1f} ms "
        f"(budget {BUDGET['zoom_ms']} ms, ratio {b['zoom_ms_max'] / BUDGET['zoom_ms']:.2f})"
    )
    print(f"exported HTML: {size_mb:.2f} MB (budget 5 MB, ratio {size_mb / BUDGET['html_mb']:.2f})")
    print(f"widget re-query on zoom (Python, subtree rebuilt): {requery_ms:.0f} ms")


if __name__ == "__main__":
    main()

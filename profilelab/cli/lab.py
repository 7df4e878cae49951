"""``profilelab lab``: open JupyterLab on the start-here notebook of a profilelab clone."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess

from profilelab.cli._common import add_command
from profilelab.launch import find_notebooks, lab_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "lab",
        "Open JupyterLab on notebooks/00-start-here.ipynb (run it inside a profilelab clone).",
        "  profilelab lab\n"
        "  profilelab lab --no-browser --port 8899\n"
        "  profilelab lab --dir ~/src/profilelab -- --ServerApp.ip=0.0.0.0\n"
        "  profilelab lab --print-command",
    )
    p.add_argument("--port", type=int, help="port for the server (jupyter's --port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--dir", help="the clone (or its notebooks/ directory); default: searched")
    p.add_argument(
        "--print-command", action="store_true", help="print the jupyter command and exit"
    )
    p.add_argument(
        "jupyter_args",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER_ARGS",
        help="further options for jupyter lab, after --",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extra = list(args.jupyter_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    notebooks = find_notebooks(args.dir)
    cmd = lab_command(notebooks, port=args.port, no_browser=args.no_browser, extra=extra)
    if args.print_command:
        print(shlex.join(cmd))
        return 0
    print(f"profilelab: opening {notebooks.name}/00-start-here.ipynb with JupyterLab", flush=True)
    if os.name == "posix":
        # Replace this process: Ctrl-C and signals reach the server directly.
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)  # pragma: no cover - non-POSIX

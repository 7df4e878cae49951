"""speedscope's importer snapshots (Jest ``.snap`` files) as Python data, and profilelab's
per-function self/total to compare with them.

A snapshot holds, per imported profile, its name and its frames with ``selfWeight`` and
``totalWeight``; a sibling entry ``<test>: profileGroup.name`` names the input file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from profilelab.model.profile import Profile

_ENTRY = re.compile(r"^exports\[`(.*?)`\] = `\n?(.*?)\n?`;$", re.S | re.M)
_FRAME = re.compile(r"Frame \{(.*?)\n    \}", re.S)
_FIELD = re.compile(r'^\s*"(\w+)": (.*?),?$', re.M)
_NUMBERED = re.compile(r"^(.*) (\d+)$")


@dataclass
class SnapFrame:
    key: str
    name: str
    file: str | None
    line: int | None
    self_weight: float
    total_weight: float


@dataclass
class SnapProfile:
    name: str
    frames: list[SnapFrame]


def _value(text: str) -> str | float | None:
    text = text.strip()
    if text in ("undefined", "null"):
        return None
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return float(text)


def load(snap: Path) -> dict[str, tuple[str, list[SnapProfile]]]:
    """{test name: (input file name, profiles in order)}."""
    entries = dict(_ENTRY.findall(snap.read_text()))
    out: dict[str, tuple[str, list[SnapProfile]]] = {}
    for key, body in entries.items():
        if ": " in key or '"frames"' not in body:
            continue
        match = _NUMBERED.match(key)
        assert match, key
        test = match.group(1)
        file = entries.get(f"{test}: profileGroup.name 1", '""').strip('"')
        frames = []
        for block in _FRAME.findall(body):
            f = {k: _value(v) for k, v in _FIELD.findall(block)}
            frames.append(
                SnapFrame(
                    key=str(f["key"]),
                    name=str(f["name"]),
                    file=f.get("file"),  # type: ignore[arg-type]
                    line=None if f.get("line") is None else int(f["line"]),  # type: ignore[arg-type]
                    self_weight=float(f["selfWeight"]),  # type: ignore[arg-type]
                    total_weight=float(f["totalWeight"]),  # type: ignore[arg-type]
                )
            )
        name = re.search(r'^  "name": "(.*)",$', body, re.M)
        out.setdefault(test, (file, []))[1].append(
            SnapProfile(name.group(1) if name else "", frames)
        )
    return out


def self_total(profile: Profile) -> dict[str, tuple[int, int]]:
    """{function name: (self, total)} of the default sample type, recursion counted once."""
    top = profile.top()
    return {r["name"]: (r["flat"], r["cum"]) for r in top.iter_rows(named=True)}


def by_name(
    frames: list[SnapFrame], strip_args: bool = False
) -> dict[str, tuple[float, float | None]]:
    """speedscope's frames by function name: self summed; total only when the name is one
    frame (None otherwise: totals of frames that nest in each other do not add up)."""
    out: dict[str, tuple[float, float | None]] = {}
    for f in frames:
        name = f.name.split(" {", 1)[0] if strip_args else f.name
        if name in out:
            out[name] = (out[name][0] + f.self_weight, None)
        else:
            out[name] = (f.self_weight, f.total_weight)
    return out


def same(
    got: dict[str, tuple[int, int]], want: dict[str, tuple[float, float | None]], scale: float
) -> list[str]:
    """Functions whose self or total differ (``got`` in units of ``scale`` x speedscope's);
    functions with zero self and total on both sides are left out."""
    names = {n for n, v in got.items() if v != (0, 0)} | {n for n, v in want.items() if v != (0, 0)}
    bad = []
    for name in sorted(names):
        s, t = got.get(name, (0, 0))
        ws, wt = want.get(name, (0, 0))
        if abs(s - ws * scale) > 0.5 or (wt is not None and abs(t - wt * scale) > 0.5):
            bad.append(f"{name}: self/total {s / scale}/{t / scale}, speedscope {ws}/{wt}")
    return bad


def labelled(profile: Profile, **labels: str) -> Profile:
    """The samples carrying all of ``labels`` (string labels)."""
    samples = profile.samples
    for key, value in labels.items():
        sets = profile.labels.filter((pl.col("key") == key) & (pl.col("str") == value))
        samples = samples.join(sets.select("label_set_id"), on="label_set_id", how="semi")
    return profile.replace(samples=samples)

"""Finding source files the way ``go tool pprof`` does (``-source_path``, ``-trim_path``).

pprof's rules (``internal/report/source.go``):

* :func:`trim_path` cleans a file name of the profile: without a trim path it first tries
  a heuristic (find ``/<basename of a search directory>/`` in the name and keep what
  follows), then strips the configured prefixes and pprof's own ``/proc/self/cwd/./``
  and ``/proc/self/cwd/``. Reports apply it to every function's file name, so ``-lines``
  and ``-list`` print the trimmed name.
* :class:`SourceReader` opens a name that is still absolute as it is; a relative name is
  tried under every search directory *and each of its parents*. The search path is the
  ``-source_path`` list (``:``-separated) or, for the listing itself, the current
  directory. Lines are read once per file; a missing file is remembered with pprof's error
  text ("could not find file F on path P").
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

PPROF_PREFIXES = ("/proc/self/cwd/./", "/proc/self/cwd/")


def split_list(path_list: str) -> list[str]:
    """Go's filepath.SplitList on POSIX: ``""`` is no directory at all."""
    return path_list.split(os.pathsep) if path_list else []


def trim_path(path: str, trim: str = "", search: str = "") -> str:
    """pprof's trimPath(path, trimPath, searchPath)."""
    if not trim:
        for d in split_list(search):
            want = "/" + _go_base(d) + "/"
            found = path.find(want)
            if found != -1:
                return path[found + len(want) :]
    for prefix in [*split_list(trim), *PPROF_PREFIXES]:
        if not prefix.endswith("/"):
            prefix += "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _go_base(path: str) -> str:
    """Go's filepath.Base."""
    if path == "":
        return "."
    path = path.rstrip("/")
    return path.rsplit("/", 1)[-1] if path else "/"


class SourceReader:
    """pprof's sourceReader: lines of source files, searched and cached."""

    def __init__(self, search: str, trim: str = "") -> None:
        self.search = search
        self.trim = trim
        self._files: dict[str, list[str]] = {}
        self._errors: dict[str, str] = {}
        self._found: dict[str, str] = {}

    def line(self, path: str, lineno: int) -> str | None:
        """Line ``lineno`` (1-based) of ``path``, None past the end or if unreadable."""
        lines = self._files.get(path)
        if lines is None:
            lines = self._read(path)
            self._files[path] = lines
        if lineno <= 0 or lineno > len(lines):
            return None
        return lines[lineno - 1]

    def error(self, path: str) -> str | None:
        """Why ``path`` could not be read (pprof's message), or None."""
        return self._errors.get(path)

    def location(self, path: str) -> str | None:
        """The file that was read for ``path``."""
        return self._found.get(path)

    def looked_in(self, path: str) -> list[str]:
        """Every file name tried for ``path``, in the order they were tried."""
        return list(self._candidates(trim_path(path, self.trim, self.search)))

    def _read(self, path: str) -> list[str]:
        rel = trim_path(path, self.trim, self.search)
        found = self._find(rel)
        if found is None:
            self._errors[path] = (
                f"open {rel}: no such file or directory"
                if posixpath.isabs(rel)
                else f"could not find file {rel} on path {self.search}"
            )
            return []
        try:
            data = Path(found).read_bytes()
        except OSError as exc:
            self._errors[path] = f"open {found}: {(exc.strerror or str(exc)).lower()}"
            return []
        self._found[path] = found
        return _scan_lines(data.decode("utf-8", errors="replace"))

    def _find(self, rel: str) -> str | None:
        return next((c for c in self._candidates(rel) if os.path.isfile(c)), None)

    def _candidates(self, rel: str) -> Iterator[str]:
        if posixpath.isabs(rel):  # still absolute: must exist as it is
            yield rel
            return
        for d in split_list(self.search):
            while True:  # the directory, then each of its parents
                yield os.path.join(d, rel)
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent


def _scan_lines(text: str) -> list[str]:
    """Go's bufio.ScanLines: split at ``\\n``, drop one trailing ``\\r`` per line."""
    if text == "":
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]

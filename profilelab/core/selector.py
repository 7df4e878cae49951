"""Prometheus-style profile selectors: ``TYPE{label="v", other=~"re"}`` and ``sum by (l) (...)``.

Grammar (whitespace is free between tokens)::

    query    := selector
              | "sum" [grouping] "(" selector ")" [grouping]
    grouping := ("by" | "without") "(" [label ("," label)*] ")"
    selector := [type] ["{" [matcher ("," matcher)* [","]] "}"]
    type     := name (":" name){0,2}          e.g. cpu, heap:inuse_space, cpu:cpu:nanoseconds
    matcher  := label ("=" | "!=" | "=~" | "!~") string
    string   := "..." | '...' | `...`        (backslash escapes in the quoted forms)

Semantics follow Prometheus: a missing label has the value ``""``; regular expressions
are fully anchored (``=~"v2.*"`` matches the whole value); at least one of the type or a
matcher must be given. Errors are :class:`~profilelab.errors.QueryError` naming the
position (0-based character offset) and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from profilelab.errors import QueryError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_OPS = ("=~", "!~", "!=", "=")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "`": "`"}


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``regex`` is compiled fully anchored for ``=~`` and ``!~``."""

    label: str
    op: str
    value: str

    def matches(self, actual: str | None) -> bool:
        """Whether a label value (None when the label is missing, treated as "") matches."""
        text = actual or ""
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        hit = re.fullmatch(self.value, text, flags=re.DOTALL) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Selector:
    """A parsed query: an optional profile type, matchers, and an optional ``sum`` grouping."""

    profile_type: str | None = None
    matchers: tuple[Matcher, ...] = ()
    aggregate: bool = False  # true for sum(...)
    by: tuple[str, ...] | None = None  # sum by (labels); None = no "by"
    without: tuple[str, ...] | None = None  # sum without (labels)
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> Selector:
    """Parse a selector; raise QueryError with the position of the first problem."""
    parser = _Parser(text)
    sel = parser.query()
    parser.skip_ws()
    if parser.pos != len(text):
        parser.fail("unexpected text after the selector")
    if sel.profile_type is None and not sel.matchers:
        raise QueryError(
            f"selector {text!r} is empty: give a profile type (cpu, heap, ...) or a matcher"
        )
    return sel


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # ---- low level -----------------------------------------------------------------------
    def fail(self, expected: str, pos: int | None = None) -> None:
        at = self.pos if pos is None else pos
        shown = self.text[at : at + 12] or "end of input"
        raise QueryError(
            f"bad selector {self.text!r} at position {at} ({shown!r}): {expected}\n"
            f"  {self.text}\n  {' ' * at}^"
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip_ws()
        return self.text.startswith(token, self.pos)

    def eat(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str, what: str) -> None:
        if not self.eat(token):
            self.fail(f"expected {what}")

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip_ws()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group(0)

    def keyword(self, word: str) -> bool:
        """Consume ``word`` when it stands alone (not the start of a longer name)."""
        self.skip_ws()
        m = _NAME.match(self.text, self.pos)
        if m and m.group(0) == word:
            self.pos = m.end()
            return True
        return False

    # ---- grammar ---------------------------------------------------------------------------
    def query(self) -> Selector:
        start = self.pos
        if self.keyword("sum"):
            if self.peek("(") or self.peek("b") or self.peek("w"):
                return self.aggregation()
            self.pos = start  # a profile type called "sum"
        return self.selector()

    def aggregation(self) -> Selector:
        by, without = self.grouping()
        self.expect("(", "'(' after sum")
        inner = self.selector()
        self.expect(")", "')' closing sum(")
        if by is None and without is None:
            by, without = self.grouping()
        return Selector(
            inner.profile_type, inner.matchers, True, by, without, text=self.text.strip()
        )

    def grouping(self) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        for word in ("by", "without"):
            if self.keyword(word):
                self.expect("(", f"'(' after {word}")
                labels: list[str] = []
                while not self.eat(")"):
                    if labels:
                        self.expect(",", "',' or ')' in the label list")
                    label = self.match(_LABEL)
                    if label is None:
                        self.fail("expected a label name")
                    labels.append(str(label))
                return (tuple(labels), None) if word == "by" else (None, tuple(labels))
        return None, None

    def selector(self) -> Selector:
        ptype = self.profile_type()
        matchers: list[Matcher] = []
        if self.eat("{"):
            while not self.eat("}"):
                if matchers:
                    self.expect(",", "',' or '}' after a matcher")
                    if self.eat("}"):
                        break
                matchers.append(self.matcher())
        elif ptype is None:
            self.fail("expected a profile type (cpu, heap, ...) or '{'")
        return Selector(ptype, tuple(matchers), text=self.text.strip())

    def profile_type(self) -> str | None:
        first = self.match(_NAME)
        if first is None:
            return None
        parts = [first]
        while len(parts) < 3 and self.text.startswith(":", self.pos):
            self.pos += 1
            part = _NAME.match(self.text, self.pos)
            if not part:
                self.fail("expected a sample type or unit after ':'")
                break
            self.pos = part.end()
            parts.append(part.group(0))
        return ":".join(parts)

    def matcher(self) -> Matcher:
        label = self.match(_LABEL)
        if label is None:
            self.fail("expected a label name")
        self.skip_ws()
        op = next((o for o in _OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            self.fail("expected one of =, !=, =~, !~")
        self.pos += len(str(op))
        self.skip_ws()
        value_pos = self.pos
        value = self.string()
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                # point into the quoted text (exact unless escapes precede the error)
                at = value_pos + 1 + (exc.pos or 0)
                self.fail(f"invalid regular expression {value!r}: {exc.msg}", at)
        return Matcher(str(label), str(op), value)

    def string(self) -> str:
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] not in "\"'`":
            self.fail("expected a quoted string")
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(out)
            if ch == "\\" and quote != "`":
                nxt = self.text[self.pos + 1 : self.pos + 2]
                if nxt not in _ESCAPES:
                    self.fail(f"unknown escape \\{nxt}")
                out.append(_ESCAPES[nxt])
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        self.fail("unterminated string", start)
        raise AssertionError("unreachable")

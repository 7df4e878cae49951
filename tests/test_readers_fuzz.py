"""Fuzzing each reader on its own seed: damaged bytes, and (JSON formats) hostile values put
anywhere in the document. Every outcome is a loaded profile (or spans) or one FormatError
line naming the input; examples are bounded so that each reader runs in about a second."""

from __future__ import annotations

import json
import warnings
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import profilelab
from profilelab.errors import FormatError
from profilelab.readers.traces import read_traces
from tests.malformed_corpus import PROFILE, _replaced, _sites, seeds
from tests.test_formats_fuzz import damaged

FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
FORMATS = sorted(seeds())
JSON_FORMATS = [f for f in FORMATS if seeds()[f][1].lstrip()[:1] in (b"{", b"[")]

#: Values JSON readers must survive anywhere: wrong types, non-finite and huge numbers,
#: lone surrogates, empty and nested containers.
HOSTILE = st.one_of(
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["\ud800", "\udfff", "", "0x1", "-1", "1e999"]),
    st.none(),
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["id", "key", "value", "x"]), st.integers(-3, 3), max_size=2),
)


@cache
def _seed(fmt: str) -> tuple[str, bytes]:
    return seeds()[fmt]


def _load(kind: str, data: bytes) -> None:
    """Load ``data``; a FormatError must be one line naming the input, and nothing may be
    printed on the way (a warning is a second line on the command line)."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        try:
            if kind == PROFILE:
                profilelab.load(data, name="fuzzed").check()
            else:
                read_traces(data, name="fuzzed")
        except FormatError as exc:
            message = str(exc)
            assert message.startswith("fuzzed: ") and "\n" not in message, message
    assert not shown, [str(w.message) for w in shown]


@st.composite
def hostile_json(draw: st.DrawFn, doc: Any) -> bytes:
    """``doc`` with one to three values (or containers) replaced by hostile ones."""
    for _ in range(draw(st.integers(1, 3))):
        doc = _replaced(doc, draw(st.sampled_from(list(_sites(doc)))), draw(HOSTILE))
    return json.dumps(doc).encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_bytes(fmt: str) -> None:
    kind, seed = _seed(fmt)

    @FUZZ
    @given(damaged([seed]))
    def run(data: bytes) -> None:
        _load(kind, data)

    run()


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_hostile_json_values(fmt: str) -> None:
    kind, seed = _seed(fmt)

    @FUZZ
    @given(hostile_json(json.loads(seed)))
    def run(data: bytes) -> None:
        _load(kind, data)

    run()

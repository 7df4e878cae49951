"""take_strings: numpy's gather and Arrow's take give the same strings, nulls included."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest

from profilelab.model import _arrow


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_both_gathers_give_the_same_strings(
    kind: pa.DataType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.compute  # noqa: F401  (a batch build has it imported)

    texts = pa.array([f"fn{i}" if i % 7 else None for i in range(3000)] + ["", "é"], type=kind)
    index = np.random.default_rng(1).integers(0, len(texts), 5000)
    monkeypatch.setattr(_arrow, "_ARROW_TAKE_MIN", 1)
    by_arrow = _arrow.take_strings(texts, index)
    monkeypatch.delitem(sys.modules, "pyarrow.compute")
    by_numpy = _arrow.take_strings(texts, index)
    assert by_arrow.to_pylist() == by_numpy.to_pylist() == [texts[int(i)].as_py() for i in index]
    assert by_arrow.null_count == by_numpy.null_count > 0


def test_a_compute_module_still_being_imported_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A big build hashes strings on two threads: while one thread imports pyarrow.compute,
    the other sees a module in sys.modules that has no functions yet."""
    import importlib.machinery
    import types

    half = types.ModuleType("pyarrow.compute")
    half.__spec__ = importlib.machinery.ModuleSpec("pyarrow.compute", None)
    half.__spec__._initializing = True  # what the import system sets until the module is run
    monkeypatch.setitem(sys.modules, "pyarrow.compute", half)
    monkeypatch.setattr(_arrow, "_ARROW_TAKE_MIN", 1)
    texts = pa.array(["a", None, "bc"])
    assert _arrow.take_strings(texts, np.array([2, 0, 1, 2])).to_pylist() == ["bc", "a", None, "bc"]

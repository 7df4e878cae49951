"""pprof's simplified names, looked at only for names that can change."""

from __future__ import annotations

import polars as pl

from profilelab.ops.demangle import pprof_function_names, simplify


def test_pprof_function_names_simplify_only_undemangled_marked_names() -> None:
    function = ["a::b<int>(x)", None, "", "x", "Foo.<init>", "y", "", "a::b<int>(x)"]
    system = ["a::b<int>(x)", "q", "(anonymous namespace)::Bar::Foo", "z", "Foo.<init>", None]
    system += ["main.run", "a::b<int>(x)"]
    out = pprof_function_names(pl.Series("function", function), pl.Series(system))
    assert out.name == "function"
    shown = ["a::b", None, "::Bar::Foo", "x", "Foo.<init>", "y", "main.run", "a::b"]
    assert out.to_list() == shown
    expected = [
        n if n is None or (n != "" and n != (s or "")) else simplify(s or "")
        for n, s in zip(function, system, strict=True)
    ]
    assert out.to_list() == expected

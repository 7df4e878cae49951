"""pprof's simplified function names: what ``go tool pprof`` prints for a demangled name.

pprof demangles every profile it loads (``symbolizer.Demangle``, default mode: no
parameters, no template parameters). A name that is not mangled but *looks like* a
demangled C++ name gets the same simplification by a heuristic
(``demangleSingleFunction``), and that is what changes names in reports:

* it applies only to functions whose name is empty or equal to their system name (a
  function whose name differs from its system name is "already demangled");
* a name looks like demangled C++ when it contains ``<``, ``>``, ``[``, ``]`` or ``::``,
  unless it contains ``.<`` (Java ``Class.<init>``) or ``]).`` (Go ``pkg.(*T[...]).M``);
* then every outermost ``(...)`` group is removed, then every outermost ``<...>`` group
  (pprof's ``removeMatching``; an unbalanced closing bracket leaves the name as it is).

So C++ ``(anonymous namespace)::Bar::Foo`` prints as ``::Bar::Foo``, Rust
``<alloc::alloc::Global as core::alloc::Allocator>::allocate`` as ``::allocate``, and a Go
generic shape ``pkg.F[go.shape.interface { At() int }]`` as ``pkg.F[go.shape.interface { At
int }]``. Truly mangled names (``_Z...``, ``_R...``) are not demangled: profilelab keeps
them as stored. The rule runs once per distinct function, never per sample.
"""

from __future__ import annotations

import polars as pl


def looks_demangled_cplusplus(name: str) -> bool:
    """pprof's ``looksLikeDemangledCPlusPlus``."""
    if ".<" in name or "])." in name:
        return False
    return any(c in name for c in "<>[]") or "::" in name


def remove_matching(name: str, start: str, end: str) -> str:
    """pprof's ``removeMatching``: drop every outermost ``start...end`` group."""
    nesting = first = current = 0
    while True:
        index = _index_any(name, current, start, end)
        if index < 0:
            return name
        current = index
        if name[current] == start:
            nesting += 1
            if nesting == 1:
                first = current
        else:
            nesting -= 1
            if nesting < 0:
                return name  # mismatch: pprof leaves the name alone
            if nesting == 0:
                name = name[:first] + name[current + 1 :]
                current = first - 1
        current += 1


def _index_any(name: str, at: int, start: str, end: str) -> int:
    a, b = name.find(start, at), name.find(end, at)
    if a < 0:
        return b
    return a if b < 0 else min(a, b)


def simplify(name: str) -> str:
    """The name pprof prints for a function whose stored name is ``name``."""
    if looks_demangled_cplusplus(name):
        return remove_matching(remove_matching(name, "(", ")"), "<", ">")
    return name


def pprof_function_names(function: pl.Series, system_name: pl.Series) -> pl.Series:
    """Per frame: the function name as ``go tool pprof`` shows it (null stays null).

    Computed once per distinct (name, system name) pair.
    """
    pairs = pl.DataFrame({"name": function, "sys": system_name.fill_null("")})
    distinct = pairs.unique(maintain_order=True)
    name, sys = pl.col("name"), pl.col("sys")
    own = name.is_null() | ((name != "") & (name != sys))  # null, or already demangled
    # Only a system name with one of looks_demangled_cplusplus's marks can change.
    marked = ~own & sys.str.contains(r"[<>\[\]]|::")
    distinct = distinct.with_columns(pl.when(own).then(name).otherwise(sys).alias("pprof"))
    todo = distinct.filter(marked)
    if todo.height:
        done = pl.Series("pprof", [simplify(x) for x in todo["sys"]], dtype=pl.Utf8)
        distinct = distinct.update(
            todo.with_columns(done), on=["name", "sys"], how="left", include_nulls=True
        )
    mapped = distinct
    joined = pairs.join(
        mapped, on=["name", "sys"], how="left", nulls_equal=True, maintain_order="left"
    )
    return joined["pprof"].alias(function.name)

"""Build script: only here for the compiled kernels (everything else is in pyproject.toml).

The extensions are plain C against the Python headers (no numpy C API); ``_inflate`` also
needs zlib's header (Debian: zlib1g-dev). They are optional so that an install without a C
compiler still works, on the slower pure-Python paths; the tests comparing each kernel with
its reference (tests/test_pprof_native.py, test_jfr.py, test_otlp_json_kernel.py,
test_wire_scan_kernel.py, test_otlp_native.py, test_lookup_native.py, test_expand_native.py
(also ``_strhash``); test_cli_startup.py for ``_arrowc``, without which a small report loads
pyarrow) fail when they were not built.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
NATIVE = "profilelab/_native/"


def kernel(
    name: str,
    *,
    more: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
    threads: bool = False,
    libraries: tuple[str, ...] = (),
) -> Extension:
    """The optional extension ``profilelab._native.<name>`` built from ``<name>.c`` (and the
    ``more`` sources) in profilelab/_native/, rebuilt when one of its ``headers`` changes."""
    pthread = ["-pthread"] if threads else []
    return Extension(
        f"profilelab._native.{name}",
        sources=[NATIVE + f for f in (f"{name}.c", *more)],
        depends=[NATIVE + h for h in headers],
        extra_compile_args=[*FLAGS, *pthread],
        extra_link_args=pthread,
        libraries=[*libraries],
        optional=True,
    )


setup(
    ext_modules=[
        # a big message's samples are decoded by two threads
        kernel(
            "_pprof",
            more=("pprof_decode.c",),
            headers=("pprof_decode.h", "pprof_wire.h", "utf8_valid.h", "ids_hash.h"),
            threads=True,
        ),
        kernel("_lookup", headers=("ids_hash.h",)),
        kernel("_expand", headers=("ids_hash.h",)),  # the builder's stack expansion, hashes
        kernel("_strhash", headers=("ids_hash.h",)),  # model.ids' string hashes
        kernel("_jfr", headers=("utf8_valid.h",)),
        kernel("_otlpjson"),
        kernel("_wirescan", headers=("wire_record.h",)),
        kernel("_otlpwire", headers=("utf8_valid.h", "wire_record.h")),
        kernel("_inflate", libraries=("z",)),
        kernel("_arrowc"),  # the release callbacks of model/_cdata.py's Arrow structs
    ]
)

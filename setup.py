"""Build script: only here for the compiled kernels (everything else is in pyproject.toml).

The extensions are plain C against the Python headers (no numpy C API); ``_inflate`` also
needs zlib's header (Debian: zlib1g-dev). They are optional so that an install without a C
compiler still works, on the slower pure-Python paths; tests/test_pprof_native.py,
tests/test_jfr_native.py, tests/test_otlp_json_kernel.py, tests/test_wire_scan_kernel.py and
tests/test_otlp_native.py
fail when they were not built.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension(
            "profilelab._native._pprof",
            sources=["profilelab/_native/_pprof.c", "profilelab/_native/pprof_decode.c"],
            depends=[
                "profilelab/_native/pprof_decode.h",
                "profilelab/_native/pprof_wire.h",
                "profilelab/_native/utf8_valid.h",
            ],
            # a big message's samples are decoded by two threads
            extra_compile_args=[*FLAGS, "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
        Extension(
            "profilelab._native._lookup",
            sources=["profilelab/_native/_lookup.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "profilelab._native._jfr",
            sources=["profilelab/_native/_jfr.c"],
            depends=["profilelab/_native/utf8_valid.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "profilelab._native._otlpjson",
            sources=["profilelab/_native/_otlpjson.c"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "profilelab._native._wirescan",
            sources=["profilelab/_native/_wirescan.c"],
            depends=["profilelab/_native/wire_record.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "profilelab._native._otlpwire",
            sources=["profilelab/_native/_otlpwire.c"],
            depends=["profilelab/_native/utf8_valid.h", "profilelab/_native/wire_record.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "profilelab._native._inflate",
            sources=["profilelab/_native/_inflate.c"],
            libraries=["z"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
    ]
)

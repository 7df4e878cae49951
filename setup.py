"""Build script: only here for the compiled pprof decoder (everything else is in pyproject.toml).

The extension is plain C against the Python headers (no numpy C API). It is marked
optional so that an install without a C compiler still works, using the slower reference
decoder; tests/test_pprof_native.py fails when it was not built.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "profilelab._native._pprof",
            sources=["profilelab/_native/_pprof.c", "profilelab/_native/pprof_decode.c"],
            depends=["profilelab/_native/pprof_decode.h", "profilelab/_native/pprof_wire.h"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)

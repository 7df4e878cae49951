"""Compiled kernels (C, built by ``setup.py``); every one has a pure-Python reference.

``_pprof`` decodes a raw pprof message into the arrays of a
:class:`~profilelab.model.raw.RawProfile`; :mod:`profilelab.readers.pprof` uses it when it
was built and falls back to its reference decoder otherwise.
"""

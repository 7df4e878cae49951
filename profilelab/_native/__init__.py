"""Compiled kernels (C, built by ``setup.py``); every one has a fallback without C.

``_pprof`` decodes a raw pprof message into the arrays of a
:class:`~profilelab.model.raw.RawProfile`; :mod:`profilelab.readers.pprof` uses it when it
was built and falls back to the numpy decoder of :mod:`profilelab.readers._pprof_wire`
otherwise (the same arrays; ``PROFILELAB_PPROF_DECODER=numpy`` forces it). ``_otlpjson``
reads the samples of an OTLP/JSON document into columns
(:mod:`profilelab.readers._otlp_json`; without it, the JSON parser's objects are gathered).
``_otlpwire`` walks a whole binary OTLP profiles request into the Payload of
:mod:`profilelab.readers._otlp_binary` (:mod:`profilelab.readers._otlp_native`; without it,
or for what it leaves, the NumPy walker) and keeps the dictionary entries a profile uses
(:mod:`profilelab.readers._otlp_raw`; without it, NumPy steps).
``_wirescan`` reads the protobuf records of many messages for
:func:`profilelab.readers._wire.scan` (without it, the numpy steps do).
``_lookup`` finds the position of each of millions of ids among distinct ones
(:func:`profilelab.ops.frames.positions`; without it, :func:`profilelab.model.ids.positions`).
``_expand`` expands the builder's raw stacks into frame ids and hashes them in one pass
(:func:`profilelab.model.builder.expand_hashed`; without it, NumPy's steps).
``_strhash`` hashes strings for the ids (:func:`profilelab.model.ids.hash_strings_at`;
without it, NumPy's byte-position loop).
``_arrowc`` holds the release callbacks of the Arrow structs that
:mod:`profilelab.model._cdata` hands to Polars (without it, pyarrow makes the arrays).
"""

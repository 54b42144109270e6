"""Faust workers: raw provider callbacks in, canonical Avro events and per-message state out.

Importing this package imports no Faust: ``streams.codecs`` (the Avro
single-object codec and the consumer-side decode helper) is usable on its own.
A worker is put together in one place, ``streams.wiring``; the domain (normalize, state,
cascade, codecs) knows nothing of Faust, whose fixes are fenced in ``streams.faustpatches``,
and the status and metrics side is ``streams.status``.
"""

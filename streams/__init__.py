"""Faust workers: raw provider callbacks in, canonical Avro events and per-message state out.

Importing this package imports no Faust: ``streams.codecs`` (the Avro
single-object codec and the consumer-side decode helper) is usable on its own.
The Faust application lives in ``streams.app``.
"""

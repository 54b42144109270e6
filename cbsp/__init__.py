"""Callback stream processor: command line, topic names and the local Kafka helper.

The two halves of the system live in their own packages: ``gateway`` (HTTP in,
raw records to Kafka) and ``streams`` (Faust workers: raw records to canonical
events and per-message state). This package holds what both sides share.
"""

__version__ = "0.1.0"

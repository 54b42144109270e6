"""Put on PYTHONPATH of a worker to deploy a "normalizer bug" for the replay tests:
every Revicom `delivered` status fails (as a real regression would), so it lands in the DLQ."""

from streams import normalize
from streams.errors import NormalizeError

fixed = normalize.REGISTRY["revicom"]


def buggy(raw, options):  # type: ignore[no-untyped-def]
    if raw.payload.get("status") == "delivered":
        raise NormalizeError("status", "simulated regression: delivered is not understood")
    return fixed(raw, options)


normalize.REGISTRY["revicom"] = buggy

"""Normalizers: one pure module per provider (no Faust import), looked up in a registry."""

from __future__ import annotations

from collections.abc import Callable

from streams.canonical import CanonicalEvent, NormalizeOptions, RawCallback
from streams.errors import UnknownProviderError
from streams.normalize import edna, fortytwo, recessmobile, revicom

Normalizer = Callable[[RawCallback, NormalizeOptions], list[CanonicalEvent]]

REGISTRY: dict[str, Normalizer] = {
    "revicom": revicom.normalize,
    "recessmobile": recessmobile.normalize,
    "fortytwo": fortytwo.normalize,
    "edna": edna.normalize,
}


DEFAULT_OPTIONS = NormalizeOptions()


def normalize(raw: RawCallback, options: NormalizeOptions = DEFAULT_OPTIONS) -> list[CanonicalEvent]:
    """The canonical events of one raw callback (an empty list for kinds kept raw only)."""
    normalizer = REGISTRY.get(raw.provider)
    if normalizer is None:
        raise UnknownProviderError(f"no normalizer for provider {raw.provider!r}")
    return normalizer(raw, options)

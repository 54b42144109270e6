"""The provider registry: path name -> module that knows the provider's HTTP side."""

from __future__ import annotations

from gateway.providers import edna, fortytwo, recessmobile, revicom
from gateway.providers.base import Callback, Provider

REGISTRY: dict[str, Provider] = {
    revicom.name: revicom,
    recessmobile.name: recessmobile,
    fortytwo.name: fortytwo,
    edna.name: edna,
}

__all__ = ["REGISTRY", "Callback", "Provider"]

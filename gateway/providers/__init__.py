"""The provider registry: path name -> module that knows the provider's HTTP side."""

from __future__ import annotations

from gateway.providers import revicom
from gateway.providers.base import Callback, Provider

REGISTRY: dict[str, Provider] = {
    revicom.name: revicom,
}

__all__ = ["REGISTRY", "Callback", "Provider"]

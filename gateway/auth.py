"""Who may call: per provider, a source address allowlist and HTTP Basic or a secret token.

The order is fixed: a provider with no credentials configured is refused (403), then
a caller outside the provider's allowlist (403), then the credentials are checked
(401). Secrets are compared in constant time, over digests so that not even their
length leaks, and never appear in an error, a log line or a metric.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from flask import Request

from gateway.addresses import is_allowed
from gateway.errors import (
    AddressNotAllowedError,
    MissingCredentialsError,
    ProviderNotConfiguredError,
    WrongCredentialsError,
)
from gateway.settings import ENV_BASIC_AUTH, ENV_TOKEN, ProviderAuth

TOKEN_HEADER = "X-Callback-Token"  # noqa: S105  (a header name, not a secret)
TOKEN_PARAMETER = "token"  # noqa: S105  (a query parameter name, not a secret)


@dataclass(frozen=True)
class Credentials:
    """What a request presents: HTTP Basic login and password, and tokens (header, query)."""

    basic: tuple[str, str] | None = field(default=None, repr=False)
    tokens: tuple[str, ...] = field(default=(), repr=False)

    @property
    def empty(self) -> bool:
        return self.basic is None and not self.tokens


def presented_credentials(request: Request) -> Credentials:
    authorization = request.authorization
    basic = None
    if authorization is not None and authorization.type == "basic":
        basic = (authorization.username or "", authorization.password or "")
    tokens = [request.headers.get(TOKEN_HEADER), request.args.get(TOKEN_PARAMETER)]
    return Credentials(basic=basic, tokens=tuple(token for token in tokens if token is not None))


def authenticate(provider: str, auth: ProviderAuth, client: str, presented: Credentials) -> None:
    """Return if ``client`` presenting ``presented`` may call as ``provider``; raise AuthError otherwise."""
    if not auth.configured:
        names = " or ".join(
            template.format(provider=provider.upper()) for template in (ENV_BASIC_AUTH, ENV_TOKEN)
        )
        raise ProviderNotConfiguredError(f"provider {provider!r} has no credentials configured: set {names}")
    if not is_allowed(client, auth.allowed_ips):
        raise AddressNotAllowedError(f"address {client} is not allowed to call as {provider}")
    if presented.empty:
        raise MissingCredentialsError(
            f"no credentials: send HTTP Basic auth, the {TOKEN_HEADER} header or the "
            f"{TOKEN_PARAMETER} query parameter"
        )
    if not _matches(presented, auth):
        raise WrongCredentialsError(f"the credentials presented are not {provider}'s")


def _matches(presented: Credentials, auth: ProviderAuth) -> bool:
    """Whether any presented credential is right; every comparison runs, none short-circuits."""
    results = [False]
    if auth.basic is not None and presented.basic is not None:
        login_ok = _equal(presented.basic[0], auth.basic[0])
        password_ok = _equal(presented.basic[1], auth.basic[1])
        results.append(login_ok & password_ok)
    if auth.token is not None:
        results.extend(_equal(token, auth.token) for token in presented.tokens)
    return any(results)


def _equal(presented: str, expected: str) -> bool:
    return hmac.compare_digest(_digest(presented), _digest(expected))


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()

"""Who may call: HTTP Basic or a secret token per provider, compared in constant time."""

from __future__ import annotations

import hmac

from flask import Request

from gateway.errors import ForbiddenError, UnauthenticatedError
from gateway.settings import ProviderAuth

TOKEN_HEADER = "X-Callback-Token"  # noqa: S105  (a header name, not a secret)


def authenticate(request: Request, provider: str, auth: ProviderAuth) -> None:
    """Return if the request carries this provider's credentials; raise otherwise."""
    if not auth.configured:
        raise ForbiddenError(
            f"provider {provider!r} has no credentials configured: set "
            f"CBSP_{provider.upper()}_BASIC_AUTH or CBSP_{provider.upper()}_TOKEN"
        )
    presented = request.authorization
    if auth.basic is not None and presented is not None and presented.type == "basic":
        if _equal(presented.username or "", auth.basic[0]) & _equal(presented.password or "", auth.basic[1]):
            return
        raise UnauthenticatedError("wrong login or password")
    token = request.headers.get(TOKEN_HEADER) or request.args.get("token")
    if auth.token is not None and token is not None:
        if _equal(token, auth.token):
            return
        raise UnauthenticatedError("wrong token")
    raise UnauthenticatedError(
        "no credentials: send HTTP Basic auth, the X-Callback-Token header or the token parameter"
    )


def _equal(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())

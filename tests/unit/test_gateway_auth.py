"""The authentication decision per provider: configured?, allowed address?, right credentials?"""

from __future__ import annotations

import pytest

from gateway.addresses import parse_networks
from gateway.auth import Credentials, authenticate
from gateway.errors import (
    AddressNotAllowedError,
    AuthError,
    MissingCredentialsError,
    ProviderNotConfiguredError,
    WrongCredentialsError,
)
from gateway.settings import ProviderAuth, Settings

BOTH = ProviderAuth(basic=("login", "s3cret"), token="tok-1")  # noqa: S106  (test values)
TOKEN_ONLY = ProviderAuth(token="tok-2", allowed_ips=parse_networks("80.252.167.60", "test"))  # noqa: S106

PASSING = [
    (BOTH, Credentials(basic=("login", "s3cret"))),
    (BOTH, Credentials(tokens=("tok-1",))),
    (BOTH, Credentials(basic=("login", "wrong"), tokens=("tok-1",))),  # any right credential lets in
    (BOTH, Credentials(tokens=("wrong", "tok-1"))),
    (TOKEN_ONLY, Credentials(tokens=("tok-2",))),
]
FAILING: list[tuple[ProviderAuth, Credentials, type[AuthError]]] = [
    (ProviderAuth(), Credentials(tokens=("anything",)), ProviderNotConfiguredError),
    (BOTH, Credentials(), MissingCredentialsError),
    (BOTH, Credentials(basic=("login", "S3cret")), WrongCredentialsError),
    (BOTH, Credentials(basic=("Login", "s3cret")), WrongCredentialsError),
    (BOTH, Credentials(basic=("login", "s3cret" * 2)), WrongCredentialsError),
    (BOTH, Credentials(tokens=("tok-",)), WrongCredentialsError),
    (TOKEN_ONLY, Credentials(basic=("login", "tok-2")), WrongCredentialsError),  # basic not configured
    (TOKEN_ONLY, Credentials(tokens=("tok-1",)), WrongCredentialsError),  # another provider's token
]


@pytest.mark.parametrize(("auth", "presented"), PASSING)
def test_right_credentials_pass(auth: ProviderAuth, presented: Credentials) -> None:
    authenticate("p", auth, "80.252.167.60", presented)


@pytest.mark.parametrize(("auth", "presented", "error"), FAILING)
def test_wrong_or_missing_credentials_are_refused(
    auth: ProviderAuth, presented: Credentials, error: type[AuthError]
) -> None:
    with pytest.raises(error) as raised:
        authenticate("p", auth, "80.252.167.60", presented)
    for secret in ("s3cret", "tok-1", "tok-2"):
        assert secret not in raised.value.detail


def test_an_address_outside_the_allowlist_is_refused_even_with_the_right_token() -> None:
    with pytest.raises(AddressNotAllowedError, match="127.0.0.1 is not allowed to call as fortytwo"):
        authenticate("fortytwo", TOKEN_ONLY, "127.0.0.1", Credentials(tokens=("tok-2",)))


def test_not_configured_names_the_variables_to_set() -> None:
    with pytest.raises(ProviderNotConfiguredError, match="CBSP_EDNA_BASIC_AUTH or CBSP_EDNA_TOKEN") as raised:
        authenticate("edna", ProviderAuth(), "127.0.0.1", Credentials())
    assert raised.value.status == 403


def test_allowlists_and_trusted_proxies_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "CBSP_FORTYTWO_TOKEN": "t",
            "CBSP_FORTYTWO_ALLOWED_IPS": "80.252.167.60, 127.0.0.0/8",
            "CBSP_TRUSTED_PROXIES": "10.0.0.0/8",
        }
    )
    assert [str(n) for n in settings.auth["fortytwo"].allowed_ips] == ["80.252.167.60/32", "127.0.0.0/8"]
    assert settings.auth["revicom"].allowed_ips == ()
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8"]
    with pytest.raises(ValueError, match="CBSP_EDNA_ALLOWED_IPS"):
        Settings.from_env({"CBSP_EDNA_ALLOWED_IPS": "80.252.167.0/16"})

"""Authentication matrix for every provider, against a real gateway and broker.

Callers are told apart by their loopback source address: 127.0.0.1 is in every
provider's allowlist, 127.0.0.2 is not, and 127.0.0.3 is the one trusted proxy
(CBSP_TRUSTED_PROXIES). Every provider has a token; revicom has HTTP Basic too.
Only the right credentials, from an allowed address, directly or through the
trusted proxy, pass; nothing refused reaches a topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests

from schemas.topicnames import PROVIDERS
from tests.cases import Case, load_cases
from tests.integration.pipeline import Pipeline, session_from

ALLOWED, DISALLOWED, PROXY = "127.0.0.1", "127.0.0.2", "127.0.0.3"
FORTYTWO_PUBLISHED = "80.252.167.60"
BASIC = ("revicom-test", "revicom-password")


def token(provider: str) -> str:
    return f"{provider}-test-token"


@dataclass(frozen=True)
class Attempt:
    name: str
    status: int
    code: str = ""
    source: str = ALLOWED
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    basic: tuple[str, str] | None = None
    in_url: bool = False  # Basic credentials in the URL's userinfo, as revicom sends them
    source_ip: str = ""  # the source_ip header expected on the raw record

    def send(self, gateway: Pipeline, provider: str, case: Case) -> requests.Response:
        target = f"{gateway.gateway_url}/v1/callbacks/{provider}{self.query}"
        if self.in_url and self.basic:
            parts = urlsplit(target)
            target = target.replace(f"//{parts.netloc}", f"//{':'.join(self.basic)}@{parts.netloc}")
        with session_from(self.source) as session:
            return session.post(
                target,
                data=case.body_bytes(),
                headers={"Content-Type": case.content_type, **self.headers},
                auth=None if self.in_url else self.basic,
                timeout=30,
            )


def attempts(provider: str) -> list[Attempt]:
    right = {"X-Callback-Token": token(provider)}
    table = [
        Attempt("no credentials", 401, "missing_credentials"),
        Attempt("wrong token header", 401, "wrong_credentials", headers={"X-Callback-Token": "guess"}),
        Attempt("wrong token query", 401, "wrong_credentials", query="?token=guess"),
        Attempt("other provider's token", 401, "wrong_credentials", headers={"X-Callback-Token": token("x")}),
        Attempt("wrong basic", 401, "wrong_credentials", basic=("revicom-test", "nope")),
        Attempt("right token header", 200, headers=right, source_ip=ALLOWED),
        Attempt("right token query", 200, query=f"?token={token(provider)}", source_ip=ALLOWED),
        Attempt("disallowed address", 403, "address_not_allowed", source=DISALLOWED, headers=right),
        Attempt(
            "spoofed X-Forwarded-For from an untrusted peer",
            403,
            "address_not_allowed",
            source=DISALLOWED,
            headers={**right, "X-Forwarded-For": ALLOWED},
        ),
        Attempt(
            "allowed client behind the trusted proxy",
            200,
            source=PROXY,
            headers={**right, "X-Forwarded-For": ALLOWED},
            source_ip=ALLOWED,
        ),
        Attempt("the trusted proxy itself", 403, "address_not_allowed", source=PROXY, headers=right),
        Attempt(
            "disallowed client behind the trusted proxy, forged address first",
            403,
            "address_not_allowed",
            source=PROXY,
            headers={**right, "X-Forwarded-For": f"{ALLOWED}, {DISALLOWED}"},
        ),
    ]
    if provider == "revicom":
        table += [
            Attempt("right basic", 200, basic=BASIC, source_ip=ALLOWED),
            Attempt("right basic in the URL", 200, basic=BASIC, in_url=True, source_ip=ALLOWED),
            Attempt(
                "right basic, disallowed address", 403, "address_not_allowed", source=DISALLOWED, basic=BASIC
            ),
        ]
    if provider == "fortytwo":
        published = {**right, "X-Forwarded-For": FORTYTWO_PUBLISHED}
        table.append(
            Attempt(
                "fortytwo's address via the proxy",
                200,
                source=PROXY,
                headers=published,
                source_ip=FORTYTWO_PUBLISHED,
            )
        )
    return table


MATRIX = [(provider, attempt) for provider in PROVIDERS for attempt in attempts(provider)]
SAMPLES = {
    provider: next(c for c in load_cases() if c.provider == provider and "callbacks" in c.spec)
    for provider in PROVIDERS
}
REFUSED: list[str] = []  # request ids of refused attempts: none of them may reach a topic


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    running = Pipeline(kafka_bootstrap, tmp_path_factory.mktemp("gateway-auth"))
    allowlists = {f"CBSP_{p.upper()}_ALLOWED_IPS": f"{ALLOWED}/32" for p in PROVIDERS}
    allowlists["CBSP_FORTYTWO_ALLOWED_IPS"] = f"{FORTYTWO_PUBLISHED}, {ALLOWED}"
    try:
        running.create_topics()
        running.gateway_url = running.spawn_gateway(
            CBSP_TRUSTED_PROXIES=f"{PROXY}/32", CBSP_REVICOM_TOKEN=token("revicom"), **allowlists
        )
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(("provider", "attempt"), MATRIX, ids=[f"{p}: {a.name}" for p, a in MATRIX])
def test_only_the_right_credentials_from_an_allowed_address_pass(
    gateway: Pipeline, provider: str, attempt: Attempt
) -> None:
    case = SAMPLES[provider]
    response = attempt.send(gateway, provider, case)

    assert response.status_code == attempt.status, response.text
    request_id = response.headers["X-Request-Id"]
    if attempt.status != 200:
        assert response.json()["error"] == attempt.code
        REFUSED.append(request_id)
        return
    raws = gateway.consume(
        [gateway.topics.raw(provider)],
        match=lambda r: r.headers.get("request_id") == request_id.encode(),
        count=len(case.spec["callbacks"]),
    )
    assert len(raws) == len(case.spec["callbacks"])
    assert {r.headers["source_ip"].decode() for r in raws} == {attempt.source_ip}


def auth_failures(gateway: Pipeline) -> float:
    return gateway.gateway_metric_total("cbsp_gateway_auth_failures_total")


def test_refused_attempts_are_counted_and_never_stored(gateway: Pipeline) -> None:
    before = auth_failures(gateway)
    for provider in PROVIDERS:
        for attempt in attempts(provider):
            if attempt.status != 200:
                response = attempt.send(gateway, provider, SAMPLES[provider])
                assert response.status_code == attempt.status
                REFUSED.append(response.headers["X-Request-Id"])
    assert auth_failures(gateway) - before == sum(a.status != 200 for p in PROVIDERS for a in attempts(p))
    stored = gateway.consume(
        [*gateway.topics.raw_all(), gateway.topics.rejected],
        match=lambda r: r.headers.get("request_id", b"").decode() in REFUSED,
        count=1,
        timeout_s=5,
    )
    assert stored == []  # neither these nor the refused attempts of the matrix


def test_the_secrets_are_not_in_the_log(gateway: Pipeline) -> None:
    for provider in PROVIDERS:  # right and wrong ones, in the query string and in headers
        Attempt("right", 200, query=f"?token={token(provider)}").send(gateway, provider, SAMPLES[provider])
        Attempt("wrong", 401, query="?token=guess").send(gateway, provider, SAMPLES[provider])
    Attempt("basic", 200, basic=BASIC).send(gateway, "revicom", SAMPLES["revicom"])
    text = (gateway.workdir / "gateway.log").read_text()
    assert "auth failed" in text
    for secret in [*(token(p) for p in PROVIDERS), BASIC[1], "guess"]:
        assert secret not in text

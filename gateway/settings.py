"""Gateway settings, read from the environment once, in ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cbsp.topicnames import PROVIDERS, TopicNames
from gateway.addresses import Network, parse_networks

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC_PREFIX = "CBSP_TOPIC_PREFIX"
ENV_PRODUCE_TIMEOUT = "CBSP_PRODUCE_TIMEOUT_S"
ENV_MAX_BODY = "CBSP_MAX_BODY_BYTES"
# per provider: CBSP_<PROVIDER>_BASIC_AUTH="login:password", CBSP_<PROVIDER>_TOKEN="secret"
ENV_BASIC_AUTH = "CBSP_{provider}_BASIC_AUTH"
ENV_TOKEN = "CBSP_{provider}_TOKEN"  # noqa: S105  (an env var name, not a secret)
# per provider, optional: comma-separated CIDRs the provider calls from (unset: any address)
ENV_ALLOWED_IPS = "CBSP_{provider}_ALLOWED_IPS"
# comma-separated CIDRs of the proxies whose X-Forwarded-For is believed (unset: none)
ENV_TRUSTED_PROXIES = "CBSP_TRUSTED_PROXIES"

ENV_PER_PROVIDER = (ENV_BASIC_AUTH, ENV_TOKEN, ENV_ALLOWED_IPS)

DEFAULT_BOOTSTRAP = "127.0.0.1:39092"


@dataclass(frozen=True)
class ProviderAuth:
    """Credentials a provider must present; a provider with none configured is refused."""

    basic: tuple[str, str] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    allowed_ips: tuple[Network, ...] = ()

    @property
    def configured(self) -> bool:
        return self.basic is not None or self.token is not None


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    topics: TopicNames = TopicNames()
    produce_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024
    auth: Mapping[str, ProviderAuth] = field(default_factory=dict)
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            bootstrap_servers=env.get(ENV_BOOTSTRAP, DEFAULT_BOOTSTRAP),
            topics=TopicNames(env.get(ENV_TOPIC_PREFIX, "")),
            produce_timeout_s=float(env.get(ENV_PRODUCE_TIMEOUT, "10")),
            max_body_bytes=int(env.get(ENV_MAX_BODY, str(1024 * 1024))),
            auth={provider: _provider_auth(env, provider) for provider in PROVIDERS},
            trusted_proxies=parse_networks(env.get(ENV_TRUSTED_PROXIES, ""), ENV_TRUSTED_PROXIES),
        )


def _provider_auth(env: Mapping[str, str], provider: str) -> ProviderAuth:
    names = {template: template.format(provider=provider.upper()) for template in ENV_PER_PROVIDER}
    basic = env.get(names[ENV_BASIC_AUTH]) or None  # empty means unset
    token = env.get(names[ENV_TOKEN]) or None
    login, sep, password = (basic or "").partition(":")
    if basic is not None and not (sep and login and password):
        raise ValueError(f"{names[ENV_BASIC_AUTH]} must be 'login:password'")
    return ProviderAuth(
        basic=(login, password) if basic else None,
        token=token,
        allowed_ips=parse_networks(env.get(names[ENV_ALLOWED_IPS], ""), names[ENV_ALLOWED_IPS]),
    )

"""Gateway settings, read from the environment once, in ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cbsp.topicnames import PROVIDERS, TopicNames

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC_PREFIX = "CBSP_TOPIC_PREFIX"
ENV_PRODUCE_TIMEOUT = "CBSP_PRODUCE_TIMEOUT_S"
ENV_MAX_BODY = "CBSP_MAX_BODY_BYTES"
# per provider: CBSP_<PROVIDER>_BASIC_AUTH="login:password", CBSP_<PROVIDER>_TOKEN="secret"
ENV_BASIC_AUTH = "CBSP_{provider}_BASIC_AUTH"
ENV_TOKEN = "CBSP_{provider}_TOKEN"  # noqa: S105  (an env var name, not a secret)

DEFAULT_BOOTSTRAP = "127.0.0.1:39092"


@dataclass(frozen=True)
class ProviderAuth:
    """Credentials a provider must present; a provider with none configured is refused."""

    basic: tuple[str, str] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            bootstrap_servers=env.get(ENV_BOOTSTRAP, DEFAULT_BOOTSTRAP),
            topics=TopicNames(env.get(ENV_TOPIC_PREFIX, "")),
            produce_timeout_s=float(env.get(ENV_PRODUCE_TIMEOUT, "10")),
            max_body_bytes=int(env.get(ENV_MAX_BODY, str(1024 * 1024))),
            auth={provider: _provider_auth(env, provider) for provider in PROVIDERS},
        )


def _provider_auth(env: Mapping[str, str], provider: str) -> ProviderAuth:
    basic = env.get(ENV_BASIC_AUTH.format(provider=provider.upper())) or None  # empty means unset
    token = env.get(ENV_TOKEN.format(provider=provider.upper())) or None
    login, sep, password = (basic or "").partition(":")
    if basic is not None and not (sep and login and password):
        raise ValueError(f"{ENV_BASIC_AUTH.format(provider=provider.upper())} must be 'login:password'")
    return ProviderAuth(basic=(login, password) if basic else None, token=token or None)

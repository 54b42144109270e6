"""Gateway settings, read from the environment once, in ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from gateway.addresses import Network, parse_networks
from schemas.topicnames import PROVIDERS, TopicNames

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

# the durable local spool used while Kafka does not acknowledge (gateway.spool)
ENV_SPOOL_ENABLED = "CBSP_GATEWAY_SPOOL_ENABLED"
ENV_SPOOL_DIR = "CBSP_GATEWAY_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES = "CBSP_GATEWAY_SPOOL_MAX_BYTES"
ENV_SPOOL_AFTER = "CBSP_GATEWAY_SPOOL_AFTER_S"
ENV_SPOOL_MIN_FREE = "CBSP_GATEWAY_SPOOL_MIN_FREE_BYTES"

# admission control (gateway.admission): the bound on a request's wait for a server thread
ENV_MAX_QUEUE_WAIT = "CBSP_GATEWAY_MAX_QUEUE_WAIT_S"
ENV_MAX_QUEUED = "CBSP_GATEWAY_MAX_QUEUED"
ENV_OVERLOAD_RETRY_AFTER = "CBSP_GATEWAY_OVERLOAD_RETRY_AFTER_S"

ENV_PER_PROVIDER = (ENV_BASIC_AUTH, ENV_TOKEN, ENV_ALLOWED_IPS)
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}

DEFAULT_BOOTSTRAP = "127.0.0.1:39092"
N = TypeVar("N", int, float)


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
    spool_enabled: bool = True
    spool_dir: Path = Path(".cbsp/spool")
    spool_max_bytes: int = 1024**3
    spool_min_free_bytes: int = 64 * 1024**2  # left free on the spool's disk, so it can drain
    spool_after_s: float = 2.0  # how long a request waits for Kafka before its records are spooled
    max_queue_wait_s: float = 0.5  # a callback request that waited longer for a thread: 503 overloaded
    max_queued: int = 512  # requests waiting for a thread, per process, past which the next is refused
    overload_retry_after_s: int = 5

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
            spool_enabled=flag(env, ENV_SPOOL_ENABLED, cls.spool_enabled),
            spool_dir=Path(env.get(ENV_SPOOL_DIR) or cls.spool_dir),
            spool_max_bytes=_positive(env, ENV_SPOOL_MAX_BYTES, cls.spool_max_bytes),
            spool_min_free_bytes=_positive(env, ENV_SPOOL_MIN_FREE, cls.spool_min_free_bytes, zero=True),
            spool_after_s=_positive(env, ENV_SPOOL_AFTER, cls.spool_after_s),
            max_queue_wait_s=_positive(env, ENV_MAX_QUEUE_WAIT, cls.max_queue_wait_s),
            max_queued=_positive(env, ENV_MAX_QUEUED, cls.max_queued),
            overload_retry_after_s=_positive(env, ENV_OVERLOAD_RETRY_AFTER, cls.overload_retry_after_s),
        )


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"{name} must be one of {sorted(TRUE_WORDS | FALSE_WORDS)}, not {value!r}")
    return value in TRUE_WORDS


def _positive(env: Mapping[str, str], name: str, default: N, zero: bool = False) -> N:
    text = env.get(name, "").strip()
    if not text:
        return default
    what = "a number >= 0" if zero else "a positive number"
    try:
        value = type(default)(text)
    except ValueError:
        raise ValueError(f"{name} must be {what}, not {text!r}") from None
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be {what}, not {text!r}")
    return value


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

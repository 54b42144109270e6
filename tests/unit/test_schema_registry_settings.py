"""The registry option's settings and subjects; the registry itself: test_registry_format.py."""

from __future__ import annotations

import pytest

from schemas.topicnames import TopicNames
from streams.schemaregistry import RegistrySettings, public_subjects
from streams.settings import WorkerSettings


def test_without_a_url_the_worker_writes_single_object_encoding() -> None:
    assert RegistrySettings.from_env({}) is None
    assert RegistrySettings.from_env({"CBSP_SCHEMA_REGISTRY_URL": " "}) is None
    assert WorkerSettings.from_env({}).schema_registry is None


def test_the_url_and_basic_auth_are_read_as_confluent_clients_spell_them() -> None:
    env = {
        "CBSP_SCHEMA_REGISTRY_URL": "http://registry:8080/apis/ccompat/v7/",
        "CBSP_SCHEMA_REGISTRY_BASIC_AUTH": "user:secret",
    }
    assert WorkerSettings.from_env(env).schema_registry == RegistrySettings(
        "http://registry:8080/apis/ccompat/v7", "user:secret"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CBSP_SCHEMA_REGISTRY_URL": "registry:8081"}, "must be an http:// or https:// URL"),
        (
            {"CBSP_SCHEMA_REGISTRY_URL": "http://r:8081", "CBSP_SCHEMA_REGISTRY_BASIC_AUTH": "user"},
            "user:password",
        ),
        ({"CBSP_SCHEMA_REGISTRY_BASIC_AUTH": "user:secret"}, "CBSP_SCHEMA_REGISTRY_URL is not"),
    ],
)
def test_a_bad_setting_is_refused_with_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegistrySettings.from_env(env)


def test_the_subjects_follow_the_topic_name_strategy_with_the_prefix() -> None:
    assert public_subjects(TopicNames("acme.")) == {
        "acme.events.status.v1-value": "cbsp.MessageStatusEvent",
        "acme.events.price.v1-value": "cbsp.MessagePriceEvent",
        "acme.events.click.v1-value": "cbsp.LinkClickEvent",
        "acme.events.inbound.v1-value": "cbsp.InboundMessageEvent",
        "acme.state.message.v1-value": "cbsp.MessageState",
    }

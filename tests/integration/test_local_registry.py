"""The schema registry the tests get (``schema_registry_url``: the project's local Apicurio Registry
unless CBSP_TEST_SCHEMA_REGISTRY_URL is set) speaks the Confluent API as Confluent's clients expect:
register and read back by id over plain HTTP, versions under a subject, BACKWARD compatibility
enforced (Confluent's default), and one id space with confluent-kafka's ``SchemaRegistryClient``.

No Kafka here: only the registry.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

V1: dict[str, Any] = {
    "type": "record",
    "name": "Probe",
    "namespace": "cbsp.test",
    "fields": [{"name": "message_id", "type": "string"}, {"name": "attempts", "type": "int"}],
}
WITH_OPTIONAL_FIELD = {
    **V1,
    "fields": [*V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}],
}
WITH_REQUIRED_FIELD = {**V1, "fields": [*V1["fields"], {"name": "price", "type": "double"}]}
WITH_TYPE_CHANGE = {**V1, "fields": [V1["fields"][0], {"name": "attempts", "type": "string"}]}


@pytest.fixture
def subject() -> str:
    """A subject of the test's own (the registry lives for the whole session)."""
    return f"cbsp-test-{uuid.uuid4().hex[:12]}-value"


def register(url: str, subject: str, schema: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{url}/subjects/{subject}/versions",
        data=json.dumps({"schema": json.dumps(schema)}),
        headers={"Content-Type": CONTENT_TYPE},
        timeout=10,
    )


def versions(url: str, subject: str) -> list[int]:
    answer = requests.get(f"{url}/subjects/{subject}/versions", timeout=10)
    answer.raise_for_status()
    return list(answer.json())


def test_the_registry_answers_the_confluent_api(schema_registry_url: str) -> None:
    subjects = requests.get(f"{schema_registry_url}/subjects", timeout=10)
    types = requests.get(f"{schema_registry_url}/schemas/types", timeout=10)

    assert subjects.status_code == 200 and isinstance(subjects.json(), list)
    assert "AVRO" in types.json()


def test_a_schema_registered_over_http_reads_back_by_id(schema_registry_url: str, subject: str) -> None:
    registered = register(schema_registry_url, subject, V1)
    assert registered.status_code == 200, registered.text
    schema_id = registered.json()["id"]

    by_id = requests.get(f"{schema_registry_url}/schemas/ids/{schema_id}", timeout=10)
    latest = requests.get(f"{schema_registry_url}/subjects/{subject}/versions/latest", timeout=10).json()

    assert by_id.status_code == 200
    assert json.loads(by_id.json()["schema"]) == V1
    assert (latest["subject"], latest["version"], latest["id"]) == (subject, 1, schema_id)
    assert register(schema_registry_url, subject, V1).json()["id"] == schema_id  # same schema, same id
    assert versions(schema_registry_url, subject) == [1]


def test_an_optional_field_with_a_default_registers_version_2(schema_registry_url: str, subject: str) -> None:
    first = register(schema_registry_url, subject, V1).json()["id"]

    second = register(schema_registry_url, subject, WITH_OPTIONAL_FIELD)

    assert second.status_code == 200, second.text
    assert second.json()["id"] != first
    assert versions(schema_registry_url, subject) == [1, 2]
    version_2 = requests.get(f"{schema_registry_url}/subjects/{subject}/versions/2", timeout=10).json()
    assert json.loads(version_2["schema"]) == WITH_OPTIONAL_FIELD


@pytest.mark.parametrize(
    ("change", "path"),
    [(WITH_REQUIRED_FIELD, "/fields/2"), (WITH_TYPE_CHANGE, "/fields/1/type")],
    ids=["new-required-field-without-default", "field-type-change"],
)
def test_an_incompatible_change_is_refused_with_409(
    schema_registry_url: str, subject: str, change: dict[str, Any], path: str
) -> None:
    register(schema_registry_url, subject, V1).raise_for_status()

    refused = register(schema_registry_url, subject, change)

    assert refused.status_code == 409, refused.text
    message = refused.json()["message"]
    # Apicurio: "Incompatible artifact: <subject> [AVRO], ... [price at /fields/2] ..."; Confluent: "...
    # is incompatible with an earlier schema ... path '/fields/2' ...": both name the offending path
    assert "ncompatible" in message and path in message, message
    assert versions(schema_registry_url, subject) == [1]


def test_confluent_client_shares_the_id_space(schema_registry_url: str, subject: str) -> None:
    schema_id = register(schema_registry_url, subject, V1).json()["id"]
    with SchemaRegistryClient({"url": schema_registry_url}) as client:
        fetched = client.get_schema(schema_id)
        again = client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
        latest = client.get_latest_version(subject)

    assert json.loads(fetched.schema_str) == V1
    assert fetched.schema_type in (None, "AVRO")
    assert again == schema_id
    assert (latest.schema_id, latest.version) == (schema_id, 1)

"""The Confluent Schema Registry API, opt-in: with ``CBSP_SCHEMA_REGISTRY_URL`` set, a worker
registers the schemas of the public topics at start and writes their values in the Confluent wire
format (:class:`streams.codecs.WireFormat`); the readers (``cbsp tail``) look ids up here.

Subjects follow Confluent's TopicNameStrategy: ``<topic>-value``, the deployment's topic prefix
included. Each schema is registered self-contained (named types inline, ``schemas.self_contained``),
so every registry and every reader takes it as it is. Plain HTTP with the standard library: five
registrations at start and a lookup per unknown id need no client library.

A registry that cannot be reached, refuses a schema (its compatibility check: an incompatible
change) or answers an error stops the worker with :class:`RegistryError`, naming the URL, the
subject and the answer. There is no fallback to the other format.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

import schemas
from schemas.topicnames import TopicNames
from streams import codecs, staterecords
from streams.canonical import EVENT_SCHEMAS
from streams.errors import CodecError

ENV_URL = "CBSP_SCHEMA_REGISTRY_URL"
ENV_BASIC_AUTH = "CBSP_SCHEMA_REGISTRY_BASIC_AUTH"
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

logger = logging.getLogger(__name__)


class RegistryError(RuntimeError):
    """The schema registry could not be reached, refused a schema, or answered an error."""


@dataclass(frozen=True)
class RegistrySettings:
    url: str  # the Confluent API's base, e.g. http://127.0.0.1:38081/apis/ccompat/v7 for Apicurio
    basic_auth: str | None = None  # user:password, as Confluent clients spell it

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RegistrySettings | None:
        """None when ``CBSP_SCHEMA_REGISTRY_URL`` is unset or empty: single-object encoding."""
        env = os.environ if env is None else env
        url = (env.get(ENV_URL) or "").strip().rstrip("/")
        auth = env.get(ENV_BASIC_AUTH) or None
        if not url:
            if auth:
                raise ValueError(f"{ENV_BASIC_AUTH} is set but {ENV_URL} is not: set both or neither")
            return None
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{ENV_URL} must be an http:// or https:// URL, not {url!r}")
        if auth is not None and ":" not in auth:
            raise ValueError(f"{ENV_BASIC_AUTH} must be user:password")
        return cls(url, auth)


def public_subjects(topics: TopicNames) -> dict[str, str]:
    """Each subject (``<topic>-value``) of the public Avro topics -> the full name of its schema."""
    subjects = {f"{topics.event(kind)}-value": schema for kind, schema in EVENT_SCHEMAS.items()}
    subjects[f"{topics.state_message}-value"] = staterecords.SCHEMA
    return {subject: codecs.full_name(schema) for subject, schema in subjects.items()}


class SchemaRegistry:
    """A client of one registry's Confluent API."""

    def __init__(self, settings: RegistrySettings, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._writer_schema = functools.cache(self._fetch_writer_schema)

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent: a schema registered before keeps its
        id); the registry's id. An incompatible change is refused by the registry: RegistryError."""
        body = {"schemaType": "AVRO", "schema": json.dumps(schema, separators=(",", ":"))}
        path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
        answer = self._request("POST", path, body, subject)
        try:
            return int(answer["id"])
        except (KeyError, TypeError, ValueError):
            raise RegistryError(self._where(subject) + f": the answer has no schema id: {answer!r}") from None

    def schema_text(self, schema_id: int) -> str:
        """The schema the registry holds under ``schema_id``, as registered."""
        answer = self._request("GET", f"/schemas/ids/{schema_id}")
        if not isinstance(answer, Mapping) or not isinstance(answer.get("schema"), str):
            raise RegistryError(
                f"schema registry {self.settings.url}: id {schema_id}: no schema in {answer!r}"
            )
        return str(answer["schema"])

    def writer_schema(self, schema_id: int) -> codecs.LoadedSchema:
        """The writer schema of ``schema_id``, looked up once (a ``codecs.SchemaLookup``): the shipped
        schema when the fingerprints agree, else the registry's own (an older or newer version)."""
        return self._writer_schema(schema_id)

    def _fetch_writer_schema(self, schema_id: int) -> codecs.LoadedSchema:
        try:
            parsed = parse_schema(json.loads(self.schema_text(schema_id)), named_schemas={})
        except (ValueError, TypeError, KeyError) as exc:
            raise CodecError(
                f"registry schema id {schema_id} is not an Avro schema fastavro reads: {exc}"
            ) from exc
        digest = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        shipped = codecs.schema_set().by_fingerprint.get(digest)
        return shipped or codecs.LoadedSchema(parsed["name"], parsed, digest)

    def _request(self, method: str, path: str, body: Any = None, subject: str | None = None) -> Any:
        url = self.settings.url + path
        request = urllib.request.Request(  # noqa: S310  (the URL's scheme is checked in from_env)
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE, **self._auth()},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"{self._where(subject)}: {method} {path} answered {_answer(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(
                f"{self._where(subject)}: cannot reach it ({reason}); is the registry running, and is "
                f"{ENV_URL} the base of its Confluent API (for Apicurio: .../apis/ccompat/v7)?"
            ) from None
        except json.JSONDecodeError as exc:
            raise RegistryError(
                f"{self._where(subject)}: {method} {path}: the answer is not JSON: {exc}"
            ) from None

    def _where(self, subject: str | None) -> str:
        where = f"schema registry {self.settings.url}"
        return where if subject is None else f"{where}, subject {subject}"

    def _auth(self) -> dict[str, str]:
        if self.settings.basic_auth is None:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(self.settings.basic_auth.encode()).decode()}


def _answer(error: urllib.error.HTTPError) -> str:
    """``HTTP 409: <the registry's message>`` (Confluent's error body: error_code and message)."""
    text = error.read().decode(errors="replace").strip()
    try:
        body = json.loads(text)
        message = body.get("message") if isinstance(body, Mapping) else None
        if message:
            text = f"{message} (error_code {body.get('error_code')})"
    except json.JSONDecodeError:
        pass
    return f"HTTP {error.code}: {text[:2000] or error.reason}"


def register_public_schemas(registry: SchemaRegistry, topics: TopicNames) -> codecs.WireFormat:
    """Register the public topics' schemas (``<topic>-value``) and frame their values with the ids."""
    ids, subjects = {}, {}
    for subject, schema in public_subjects(topics).items():
        ids[schema] = subjects[subject] = registry.register(subject, schemas.self_contained(schema))
    logger.info(
        "Confluent wire format: schemas registered at %s (subject: id) %s", registry.settings.url, subjects
    )
    return codecs.WireFormat(ids)


def wire_format(settings: RegistrySettings | None, topics: TopicNames) -> codecs.WireFormat:
    """The wire format of a worker with these settings: single-object without a registry."""
    if settings is None:
        return codecs.SINGLE_OBJECT
    return register_public_schemas(SchemaRegistry(settings), topics)

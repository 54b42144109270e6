"""Fortytwo: what its callbacks mean (shapes in shared/providers/fortytwo.md).

A status record is one ``data[]`` report with its bundle's ``api_job_id`` and
``client_job_id`` merged in by the gateway. A reply's ``req_uuid`` changes on every
retry of the callback: it is no identity and stays out of events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.canonical import (
    CanonicalEvent,
    NormalizeOptions,
    RawCallback,
    envelope,
    status_fields,
    with_defaults,
)
from streams.errors import NormalizeError
from streams.normalize.fields import optional_int, optional_str, parse_time, required_str

# SMPP v3.4 states plus SEEN (IM), each to the canonical status of the same meaning (the
# four final failures stay apart); an error_code alone is no failure: the status decides
STATUSES = {
    "ACCEPTD": "SENT",
    "UNKNOWN": "UNKNOWN",
    "REJECTD": "REJECTED",
    "UNDELIV": "UNDELIVERED",
    "EXPIRED": "EXPIRED",
    "DELETED": "CANCELLED",
    "DELIVRD": "DELIVERED",
    "SEEN": "READ",
}
READ_STATES = {"SEEN": "READ"}
REPLY_FIELDS = ("api_job_id", "client_job_id")


def normalize(raw: RawCallback, options: NormalizeOptions) -> list[CanonicalEvent]:
    if raw.kind == "status":
        return [_report(raw)]
    if raw.kind == "inbound":
        return [_reply(raw)]
    return []


def _report(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    message_id, provider_status = required_str(payload, "message_id"), required_str(payload, "status")
    occurred_at = _occurred_at(payload)
    record = envelope(
        raw,
        kind="status",
        natural_key=(message_id, provider_status, occurred_at),
        provider_message_id=message_id,
        occurred_at=occurred_at,
        channel=optional_str(payload, "type"),  # SMS, VIBER, or INTERNAL (the request's first phase)
    )
    canonical = provider_status.upper()
    status = STATUSES.get(canonical, "UNKNOWN")
    error_code = optional_int(payload, "error_code")
    record |= status_fields(status, provider_status, error_code, read_state=READ_STATES.get(canonical))
    return CanonicalEvent("status", record)


def _reply(raw: RawCallback) -> CanonicalEvent:
    payload = raw.payload
    reply_message_id = required_str(payload, "reply_message_id")
    record = envelope(
        raw,
        kind="inbound",
        natural_key=(reply_message_id,),  # not req_uuid: it changes on every retry
        provider_message_id=reply_message_id,
        occurred_at=_occurred_at(payload),
        channel=optional_str(payload, "channel"),
    )
    text = _message_text(payload)
    fields = {
        "sender": optional_str(payload, "from"),
        "recipient": optional_str(payload, "to"),
        "text": text,
        "content_type": "text" if text else None,
        "in_reply_to": optional_str(payload, "orig_message_id"),
        "provider_fields": _provider_fields(payload),
    }
    return CanonicalEvent("inbound", with_defaults("inbound", record | fields))


def _occurred_at(payload: Mapping[str, Any]) -> datetime:
    """``micro_timestamp`` (milliseconds, despite the name) when given, else ``timestamp`` (seconds)."""
    for key in ("micro_timestamp", "timestamp"):
        if payload.get(key) not in (None, ""):
            return parse_time(payload[key], key)
    raise NormalizeError("micro_timestamp", "missing, and no timestamp either")


def _message_text(payload: Mapping[str, Any]) -> str | None:
    message = payload.get("message")
    if not isinstance(message, Mapping):
        raise NormalizeError("message", "missing" if message is None else f"expected an object: {message!r}")
    try:
        return optional_str(message, "text")
    except NormalizeError as exc:
        raise NormalizeError(f"message.{exc.path}", exc.reason) from None


def _provider_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """The job ids that tie a reply to our request (req_uuid is per attempt: left out)."""
    return {key: str(payload[key]) for key in REPLY_FIELDS if payload.get(key) not in (None, "")}

"""The gateway's errors: one root, one JSON shape ``{"error": CODE, "detail": TEXT}``."""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """Root of every error the gateway answers with; ``status`` is the HTTP status."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}

    def headers(self) -> dict[str, str]:
        return {}


class ShapeError(GatewayError):
    """The body is not this provider's callback shape; ``path`` names the field."""

    code = "invalid_callback"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path


class UnparseableBodyError(GatewayError):
    code = "unparseable_body"


class UnsupportedMediaTypeError(GatewayError):
    status = 415
    code = "unsupported_media_type"


class BodyTooLargeError(GatewayError):
    status = 413
    code = "body_too_large"


class UnknownProviderError(GatewayError):
    status = 404
    code = "unknown_provider"


class AuthError(GatewayError):
    """The caller is not let in; ``code`` doubles as the reason counted in the metrics."""

    status = 403
    code = "forbidden"


class MissingCredentialsError(AuthError):
    status = 401
    code = "missing_credentials"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="callbacks"'}


class WrongCredentialsError(MissingCredentialsError):
    code = "wrong_credentials"


class ProviderNotConfiguredError(AuthError):
    code = "provider_not_configured"


class AddressNotAllowedError(AuthError):
    code = "address_not_allowed"


class KafkaUnavailableError(GatewayError):
    """Kafka did not acknowledge in time: the provider must retry (503 + Retry-After)."""

    status = 503
    code = "kafka_unavailable"
    retry_after_s = 30
    # indexes of the records of the send Kafka did not take (None: all, or not known)
    undelivered: list[int] | None = None

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class KafkaSlowError(KafkaUnavailableError):
    """Kafka did not acknowledge within the time the request waits (the send may still succeed)."""


class InternalError(KafkaUnavailableError):
    """A bug, never an input's fault: answered like Kafka trouble (503), so the provider retries."""

    code = "internal_error"


class SpoolFullError(KafkaUnavailableError):
    """Kafka did not acknowledge and the spool is at its size bound (503)."""

    code = "spool_full"


class SpoolUnavailableError(KafkaUnavailableError):
    """Kafka did not acknowledge and the spool's disk refused the write (503)."""

    code = "spool_unavailable"

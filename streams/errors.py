"""One root exception for the streams package; ``retriable`` says whether trying again may help."""

from __future__ import annotations


class StreamsError(Exception):
    """Root of every error the streams package raises on purpose."""

    retriable = False


class CodecError(StreamsError):
    """Bytes that are not a record of a known schema, or a record its schema refuses."""


class NormalizeError(StreamsError):
    """A raw callback that cannot become canonical events (the record goes to the DLQ).

    ``path`` names the field (``status_time``, ``data[2].status``) and ``reason`` what is wrong.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class UnknownProviderError(StreamsError):
    """A raw record names a provider that has no normalizer."""


class OutputError(StreamsError):
    """A record could not be handed to Kafka: not the input's fault, so never dead-lettered.

    The worker stops at once when an event meets one (``streams.faustpatches.transport``), before
    anything of the event can be committed; it is processed again after the restart.
    """

    retriable = True

    @classmethod
    def refused(cls, topic: str, exc: BaseException) -> OutputError:
        return cls(f"{topic}: {type(exc).__name__}: {exc}")

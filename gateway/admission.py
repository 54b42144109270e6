"""Admission control: a callback request that cannot start in time is refused at once.

A server with more requests than it can serve queues them: past its capacity the queue
grows until the providers time out and retry, so fewer requests are answered than at
capacity and many get no answer at all. The gateway bounds that wait instead. The server
worker (``gateway.serverworker``) stamps every request when it is queued for a thread and,
once the thread has parsed the request line and headers, asks ``Admission`` before anything
else of it is read or produced:

- it waited longer than ``max_queue_wait_s`` for a thread (reason ``queue_wait``), or
- its process already had as many requests waiting as its threads start within
  ``max_queue_wait_s`` at their pace, at most ``max_queued`` (``queue_full``: it is answered by a
  thread of its own, without waiting behind them),

and a callback request is answered ``503 overloaded`` with ``Retry-After`` by the worker
itself, without the WSGI app (a refusal must cost a fraction of a served request, or refusing
eats the capacity it protects): nothing of it is stored, the provider sends it again.
Operations endpoints are always served. A request that is let in keeps every guarantee (200
only after ``acks=all`` or the fsynced spool); ``AdmissionControl``, the outermost WSGI layer,
observes its wait and hands it to ``/readyz``.
Refusals are counted (``cbsp_gateway_overload_refused``), every request's wait is observed
(``cbsp_gateway_queue_wait_seconds``), and the log gets one line a second at most while
refusing and one when it stops: no line per refused request.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from gateway.callbacks import CALLBACK_PREFIX, provider_label
from gateway.metrics import Metrics

logger = logging.getLogger(__name__)

QUEUE_WAIT = "queue_wait"
QUEUE_FULL = "queue_full"
REASONS = (QUEUE_WAIT, QUEUE_FULL)
ENVIRON_KEY = "cbsp.admission"  # the request's Ticket, for /readyz
LOG_INTERVAL_S = 1.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Ticket:
    """How a request came to a thread: its wait in the queue, and whether the queue was full."""

    waited_s: float
    queue_full: bool
    queued: int  # requests of this process waiting for a thread when this one started


_current = threading.local()


def hand_over(ticket: Ticket | None) -> None:
    """Called by the server worker in the thread that serves the request (None: clear)."""
    _current.ticket = ticket


def current_ticket() -> Ticket | None:
    """The ticket of the request this thread serves (None: not served by the server worker)."""
    ticket: Ticket | None = getattr(_current, "ticket", None)
    return ticket


class OverloadLog:
    """The operator's view of refusals in one process: totals, and a log line a second at most."""

    def __init__(self, max_wait_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.totals = dict.fromkeys(REASONS, 0)
        self.last_refused: float | None = None
        self._lock = threading.Lock()
        self._since_line = dict.fromkeys(REASONS, 0)
        self._longest_wait_s = 0.0
        self._line_at = float("-inf")
        self._episode_start: float | None = None
        self._episode_refused = 0

    def refused(self, ticket: Ticket, reason: str) -> None:
        now = self.clock()
        with self._lock:
            self.totals[reason] += 1
            self._since_line[reason] += 1
            self._longest_wait_s = max(self._longest_wait_s, ticket.waited_s)
            self.last_refused = now
            self._episode_refused += 1
            if self._episode_start is None:
                self._episode_start = now
            if now - self._line_at >= LOG_INTERVAL_S:
                self._write_line(now, ticket.queued)

    def admitted(self) -> None:
        """A request was let in: if refusing stopped a while ago, say so (once)."""
        if self._episode_start is None:  # the usual case: one attribute read, no lock
            return
        now = self.clock()
        with self._lock:
            if self._episode_start is None or self.last_refused is None:
                return
            if now - self.last_refused < LOG_INTERVAL_S:
                return
            logger.warning(
                "overload over: this process refused %d callback requests in %.1f s; "
                "it serves every request again",
                self._episode_refused,
                self.last_refused - self._episode_start,
            )
            self._episode_start, self._episode_refused = None, 0
            self._since_line = dict.fromkeys(REASONS, 0)
            self._longest_wait_s = 0.0

    def refusing(self, within_s: float = 5.0) -> bool:
        return self.last_refused is not None and self.clock() - self.last_refused < within_s

    def _write_line(self, now: float, queued: int) -> None:
        logger.warning(
            "overloaded: refused %d callback requests with 503 since the last line "
            "(%d waited over %.0f ms for a thread, %d found the queue full); longest wait %.0f ms, "
            "%d waiting now. Add gateway processes or machines, or check the broker's latency "
            "(docs/runbook.md, 'The gateway refuses requests: overloaded')",
            sum(self._since_line.values()),
            self._since_line[QUEUE_WAIT],
            self.max_wait_s * 1000,
            self._since_line[QUEUE_FULL],
            self._longest_wait_s * 1000,
            queued,
        )
        self._line_at = now
        self._since_line = dict.fromkeys(REASONS, 0)
        self._longest_wait_s = 0.0


class Admission:
    """Decides, refuses and counts; one per app (``app.extensions["cbsp_admission"]``)."""

    def __init__(self, metrics: Metrics, max_wait_s: float, retry_after_s: int) -> None:
        self.metrics = metrics
        self.max_wait_s = max_wait_s
        self.retry_after = str(retry_after_s)
        self.log = OverloadLog(max_wait_s)

    def refuses(self, ticket: Ticket, path: str) -> str | None:
        """The reason to refuse this request, or None to serve it."""
        if not path.startswith(CALLBACK_PREFIX):
            return None
        if ticket.queue_full:
            return QUEUE_FULL
        return QUEUE_WAIT if ticket.waited_s > self.max_wait_s else None

    def refusal(self, ticket: Ticket, reason: str, path: str, keep_alive: bool) -> bytes:
        """The whole HTTP/1.1 answer to a refused request (counted and logged here)."""
        if reason == QUEUE_FULL:
            why = f"{ticket.queued} requests were already waiting for a server thread"
        else:
            why = (
                f"it waited {ticket.waited_s * 1000:.0f} ms for a server thread "
                f"(bound {self.max_wait_s * 1000:.0f} ms)"
            )
        body = (
            f'{{"error":"overloaded","detail":"the gateway is over capacity: {why}; nothing was stored, '
            f'send the request again after {self.retry_after} s"}}\n'
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Retry-After: {self.retry_after}\r\n"
            f"X-Request-Id: {uuid.uuid4().hex}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode()
        self.metrics.observe_queue_wait(ticket.waited_s)
        self.metrics.count_request(provider_label(path), 503)
        self.metrics.count_overload_refused(reason)
        self.log.refused(ticket, reason)
        return head + body


class AdmissionControl:
    """The outermost WSGI layer: observes the wait of each request let in, for the metrics and
    ``/readyz`` (the worker answers the refused ones before the app)."""

    def __init__(self, app: WsgiApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        ticket = current_ticket()
        if ticket is not None:  # None: not served by the gateway's server worker (tests, another server)
            self.admission.metrics.observe_queue_wait(ticket.waited_s)
            environ[ENVIRON_KEY] = ticket
            self.admission.log.admitted()
        return self.app(environ, start_response)

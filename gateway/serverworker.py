"""gunicorn's threaded worker, with the two facts admission control needs (gateway.admission).

gunicorn's ``gthread`` worker accepts connections in its main thread and queues each request
(a new connection, or a kept-alive one that became readable) for its pool of threads, without
a bound: past capacity that queue, not the listen backlog, is where requests wait (the main
thread keeps accepting up to ``worker_connections``). This worker stamps each request when it
is queued, counts the requests waiting, and tells the thread that takes a request how long it
waited. A request that comes while more wait than the threads start within the bound (at most
``max_queued``: ``queue_limit``) goes to a small pool of its own,
so that its refusal is answered at once instead of after the queue. Once a request's line and
headers are parsed, the app's ``Admission`` says whether to refuse it; a refusal is written
here, without the WSGI app (a third of the cost of serving it through Flask was measured
otherwise, and refusing ate the capacity it protects).
"""

from __future__ import annotations

import itertools
import socket
import time
from concurrent import futures
from typing import Any

from gunicorn.workers.gthread import _DEFER, ThreadWorker

from gateway.admission import Admission, Ticket, current_ticket, hand_over
from gateway.settings import Settings

REFUSING_THREADS = 2  # answer the refusals; two, so that one slow client cannot hold them up
ACCEPT_BATCH = 64  # connections accepted per wake-up of the main thread
SERVICE_SMOOTHING = 0.05  # weight of the newest request in the average time on a thread


class AdmissionWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    def init_process(self) -> None:
        settings = Settings.from_env()  # checked by `cbsp gateway` before the fork
        self.max_queued, self.max_wait_s = settings.max_queued, settings.max_queue_wait_s
        self.service_s = 0.0  # average time a request let in holds a thread (the threads' pace)
        self.queued_count = 0  # requests queued for the pool (main thread only)
        self.started = itertools.count()  # requests the pool took (next() is atomic in CPython)
        self.started_count = 0
        self.refusing_pool = futures.ThreadPoolExecutor(REFUSING_THREADS, thread_name_prefix="refuse")
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # the gateway app's admission control (another app, e.g. the benchmark's no-op one: none)
        self.admission: Admission | None = getattr(self.wsgi, "extensions", {}).get("cbsp_admission")

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.refusing_pool.shutdown(wait=False)

    def accept(self, listener: Any) -> None:
        """Accept every waiting connection (up to ACCEPT_BATCH), not one per wake-up as gthread does.

        The main thread competes for the GIL with the request threads: accepting one connection
        each time it gets it, it fell behind under load and connections waited in the kernel's
        listen backlog, unseen by the bound, for seconds (SYNs dropped once the backlog is full
        come again after 1, 3, 7 s). Taken out at once, they wait in the queue the bound watches."""
        for _ in range(ACCEPT_BATCH):
            before = self.nr_conns
            super().accept(listener)  # one connection, or none waiting (EAGAIN: nr_conns unchanged)
            if self.nr_conns == before or self.nr_conns >= self.worker_connections:
                return

    def enqueue_req(self, conn: Any) -> None:
        conn.queued_at = time.monotonic()
        waiting = self.queued_count - self.started_count
        if conn.initialized and peer_closed(conn.sock):
            # a kept-alive connection its client closed: no request, only a close to do; counted as
            # waiting, it made the next client's request look like one too many (a client that
            # opens a connection per request closes the last one just before)
            fs = self.refusing_pool.submit(self._handle, conn, Ticket(0.0, False, waiting))
        elif waiting >= self.queue_limit():
            conn.queued = waiting
            fs = self.refusing_pool.submit(self._handle_refused, conn)
        else:
            self.queued_count += 1
            fs = self.tpool.submit(self._handle_queued, conn)
        fs.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def queue_limit(self) -> int:
        """How many requests may wait: as many as the threads start within the bound at the pace
        they serve now (at least one per thread), at most ``max_queued``. A request past it would
        only wait to be refused: it is refused at once. Below capacity the pace is fast and the
        limit is ``max_queued``, so a burst is queued, not refused."""
        if self.service_s <= 0:
            return int(self.max_queued)
        threads = int(self.cfg.threads)
        return min(self.max_queued, max(threads, int(threads * self.max_wait_s / self.service_s)))

    def _handle_queued(self, conn: Any) -> Any:
        began = time.monotonic()
        self.started_count = next(self.started) + 1
        ticket = Ticket(began - conn.queued_at, False, self.queued_count - self.started_count)
        try:
            return self._handle(conn, ticket)
        finally:
            if ticket.waited_s <= self.max_wait_s:  # served, not refused: it tells the pace
                self.service_s += (time.monotonic() - began - self.service_s) * SERVICE_SMOOTHING

    def _handle_refused(self, conn: Any) -> Any:
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(0):
            # a new connection whose request has not come: gthread would hold the thread up to 5 s
            # for it, and the refusals behind it would wait; the poller hands it back when it comes
            return _DEFER
        return self._handle(conn, Ticket(time.monotonic() - conn.queued_at, True, conn.queued))

    def handle_request(self, req: Any, conn: Any) -> Any:
        """Serve a parsed request through the app, or answer its refusal here."""
        ticket, admission = current_ticket(), self.admission
        reason = None if ticket is None or admission is None else admission.refuses(ticket, req.path)
        if ticket is None or admission is None or reason is None:
            return super().handle_request(req, conn)
        keep_alive = self.alive and bool(self.cfg.keepalive) and not req.should_close()
        conn.sock.sendall(admission.refusal(ticket, reason, req.path, keep_alive))
        return keep_alive  # gthread reads what is left of the body before the next request

    def _handle(self, conn: Any, ticket: Ticket) -> Any:
        hand_over(ticket)
        try:
            return self.handle(conn)
        finally:
            hand_over(None)  # a request the app never saw (a closed connection) leaves no ticket behind


def peer_closed(sock: Any) -> bool:
    """Whether the client closed this readable connection (end of stream, no request). A TLS
    socket cannot be peeked at: it is taken for open, and its close is handled as a request."""
    if type(sock) is not socket.socket:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except OSError:  # no data yet (EAGAIN), or a reset: the thread that handles it finds out
        return False

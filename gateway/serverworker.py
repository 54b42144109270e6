"""gunicorn's threaded worker, with the two facts admission control needs (gateway.admission).

gunicorn's ``gthread`` worker accepts connections in its main thread and queues each request
(a new connection, or a kept-alive one that became readable) for its pool of threads, without
a bound: past capacity that queue, not the listen backlog, is where requests wait (the main
thread keeps accepting up to ``worker_connections``). This worker stamps each request when it
is queued, counts the requests waiting, and tells the thread that takes a request how long it
waited. A request that comes while ``max_queued`` others wait goes to a small pool of its own,
so that its refusal is answered at once instead of after the queue.
"""

from __future__ import annotations

import itertools
import time
from concurrent import futures
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from gateway.admission import Ticket, hand_over
from gateway.settings import Settings

REFUSING_THREADS = 2  # answer the refusals; two, so that one slow client cannot hold them up
ACCEPT_BATCH = 64  # connections accepted per wake-up of the main thread


class AdmissionWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    def init_process(self) -> None:
        self.max_queued = Settings.from_env().max_queued  # checked by `cbsp gateway` before the fork
        self.queued_count = 0  # requests queued for the pool (main thread only)
        self.started = itertools.count()  # requests the pool took (next() is atomic in CPython)
        self.started_count = 0
        self.refusing_pool = futures.ThreadPoolExecutor(REFUSING_THREADS, thread_name_prefix="refuse")
        super().init_process()

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
        if waiting >= self.max_queued:
            conn.queued = waiting
            fs = self.refusing_pool.submit(self._handle_refused, conn)
        else:
            self.queued_count += 1
            fs = self.tpool.submit(self._handle_queued, conn)
        fs.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _handle_queued(self, conn: Any) -> Any:
        self.started_count = next(self.started) + 1
        ticket = Ticket(time.monotonic() - conn.queued_at, False, self.queued_count - self.started_count)
        return self._handle(conn, ticket)

    def _handle_refused(self, conn: Any) -> Any:
        return self._handle(conn, Ticket(time.monotonic() - conn.queued_at, True, conn.queued))

    def _handle(self, conn: Any, ticket: Ticket) -> Any:
        hand_over(ticket)
        try:
            return self.handle(conn)
        finally:
            hand_over(None)  # a request the app never saw (a closed connection) leaves no ticket behind

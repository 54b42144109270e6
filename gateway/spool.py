"""The gateway's durable local spool: records Kafka did not acknowledge in time, kept on disk.

One SQLite database in WAL mode with ``synchronous=FULL``: a record is on disk (the WAL
fsynced) when :meth:`Spool.append` returns, so the gateway may answer 200 for it. Several
gateway processes on one machine share the file; SQLite's locking keeps it whole, and a
lease row lets one process at a time drain it (``gateway.drainer``), in arrival order.

A spooled record may still be on its way to Kafka: the request that spooled it had handed it
to the producer, which goes on trying after the request stopped waiting. Such a row is *in
flight*, owned by its process: that process deletes it when the late send succeeds, or
releases it to the drainer when it fails. Every process says it is alive every few seconds
(``owners``); rows of a process that stopped saying so (killed) go to the drainer. That, and a
process killed between the drainer's send and its delete, are the only ways a callback can
reach its raw topic twice (its event ids are the same, so nothing downstream counts it twice).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import SpoolFullError, SpoolUnavailableError
from gateway.producer import OutRecord

FILE_NAME = "spool.sqlite3"
BUSY_TIMEOUT_MS = 10_000  # another process writing: wait this long for the lock
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    provider TEXT NOT NULL,
    spooled_at REAL NOT NULL,
    inflight_owner TEXT,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    alive_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    records INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0);
CREATE TRIGGER IF NOT EXISTS count_in AFTER INSERT ON records BEGIN
    UPDATE totals SET records = records + 1, bytes = bytes + NEW.size WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS count_out AFTER DELETE ON records BEGIN
    UPDATE totals SET records = records - 1, bytes = bytes - OLD.size WHERE id = 1;
END;
CREATE TABLE IF NOT EXISTS drain_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
INSERT OR IGNORE INTO drain_lease VALUES (1, '', 0);
"""


@dataclass(frozen=True)
class SpoolStats:
    records: int
    bytes: int
    oldest_spooled_at: float | None  # epoch seconds

    def oldest_age_s(self, now: float | None = None) -> float:
        if self.oldest_spooled_at is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - self.oldest_spooled_at)


@dataclass(frozen=True)
class SpooledRecord:
    id: int
    record: OutRecord


class Spool:
    def __init__(self, directory: Path, max_bytes: int, min_free_bytes: int = 0) -> None:
        self.path = directory / FILE_NAME
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process
        self.max_bytes = max_bytes
        # left free on the disk by appends: deleting drained rows needs room in the WAL too
        self.min_free_bytes = min_free_bytes
        self._lock = threading.Lock()  # one connection per process, shared by its threads
        self._connection: sqlite3.Connection | None = None

    def append(self, records: Sequence[OutRecord], provider: str, in_flight: bool) -> list[int]:
        """Write ``records`` durably (all or none) and return their ids.

        ``in_flight``: a send of this process may still deliver them (settle with
        :meth:`delete` or :meth:`release`).
        Raises :class:`SpoolFullError` past the size bound, :class:`SpoolUnavailableError`
        when the disk refuses (full, read-only, missing).
        """
        now = time.time()
        rows = [
            (
                r.topic,
                r.key,
                r.value,
                _headers_text(r.headers),
                provider,
                now,
                self.owner if in_flight else None,
                len(r.key) + len(r.value),
            )
            for r in records
        ]
        incoming = sum(row[-1] for row in rows)
        self._check_free_space(incoming)
        with self._transaction("append") as db:
            (held,) = db.execute("SELECT bytes FROM totals").fetchone()
            if held + incoming > self.max_bytes:
                raise SpoolFullError(
                    f"the spool holds {held} bytes, the limit is {self.max_bytes}; retry later"
                )
            ids = []
            for row in rows:
                cursor = db.execute(
                    "INSERT INTO records (topic, key, value, headers, provider, spooled_at,"
                    " inflight_owner, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                ids.append(int(cursor.lastrowid or 0))
            return ids

    def drainable(self, limit: int, max_bytes: int = 256 * 1024) -> list[SpooledRecord]:
        """The oldest records no send is known to be carrying, in arrival order: at most
        ``limit`` of them and, beyond the first, ``max_bytes`` (a delete needs WAL room)."""
        with self._transaction("read") as db:
            rows = db.execute(
                "SELECT id, topic, key, value, headers, size FROM records WHERE inflight_owner IS NULL"
                " OR inflight_owner NOT IN (SELECT owner FROM owners WHERE alive_until > ?)"
                " ORDER BY id LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        batch: list[SpooledRecord] = []
        total = 0
        for id, topic, key, value, headers, size in rows:
            total += size
            if batch and total > max_bytes:
                break
            batch.append(SpooledRecord(id, OutRecord(topic, bytes(key), bytes(value), _headers(headers))))
        return batch

    def delete(self, ids: Sequence[int]) -> None:
        """Forget records Kafka has acknowledged."""
        with self._transaction("delete") as db:
            db.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in ids])

    def release(self, ids: Sequence[int]) -> None:
        """Records whose late send failed: the drainer's now."""
        with self._transaction("release") as db:
            db.executemany("UPDATE records SET inflight_owner = NULL WHERE id = ?", [(i,) for i in ids])

    def keep_alive(self, alive_s: float) -> None:
        """This process lives for ``alive_s`` more: its rows in flight are its own till then."""
        now = time.time()
        with self._transaction("keep alive") as db:
            db.execute("INSERT OR REPLACE INTO owners VALUES (?, ?)", (self.owner, now + alive_s))
            db.execute("DELETE FROM owners WHERE alive_until < ?", (now - 3600,))

    def leave(self) -> None:
        """A clean stop: what this process still has in flight is the drainer's."""
        with self._transaction("leave") as db:
            db.execute("DELETE FROM owners WHERE owner = ?", (self.owner,))
            db.execute("UPDATE drain_lease SET expires = 0 WHERE owner = ?", (self.owner,))

    def take_lease(self, lease_s: float) -> bool:
        """Whether this process is the one drainer for the next ``lease_s`` seconds."""
        owner = self.owner
        now = time.time()
        with self._transaction("lease") as db:
            held_by, expires = db.execute("SELECT owner, expires FROM drain_lease").fetchone()
            if held_by != owner and expires > now:
                return False
            db.execute("UPDATE drain_lease SET owner = ?, expires = ?", (owner, now + lease_s))
            return True

    def stats(self) -> SpoolStats:
        with self._transaction("read") as db:
            records, size = db.execute("SELECT records, bytes FROM totals").fetchone()
            oldest = db.execute("SELECT spooled_at FROM records ORDER BY id LIMIT 1").fetchone()
        return SpoolStats(records, size, oldest[0] if oldest else None)

    def has_room(self, stats: SpoolStats) -> bool:
        """Whether an append of a small request would be taken now."""
        return stats.bytes < self.max_bytes and self._disk_free() >= self.min_free_bytes

    def _disk_free(self) -> int:
        try:
            return shutil.disk_usage(self.path.parent).free
        except OSError:
            return self.min_free_bytes  # not there yet: the write says what is wrong

    def _check_free_space(self, incoming: int) -> None:
        if not self.min_free_bytes:
            return
        free = self._disk_free()
        if free - incoming < self.min_free_bytes:
            raise SpoolFullError(
                f"the disk under {self.path.parent} has {free} bytes free; the spool leaves"
                f" {self.min_free_bytes} free for draining; retry later"
            )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                db = self._connect()
                db.execute("BEGIN IMMEDIATE" if what != "read" else "BEGIN")
                try:
                    yield db
                except BaseException:
                    db.rollback()
                    raise
                db.commit()
            except sqlite3.Error as exc:
                self._drop_connection()  # the next call opens the file afresh (e.g. disk back)
                raise SpoolUnavailableError(f"the spool at {self.path} cannot {what}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise sqlite3.OperationalError(f"cannot create {self.path.parent}: {exc}") from exc
            db = sqlite3.connect(  # used by every thread of the process, one at a time (self._lock)
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")  # the WAL is fsynced at every commit
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                # the WAL goes back into the file every 100 pages (400 KiB) and its space is reused:
                # a spool near a full disk must still find room to write its deletes
                db.execute("PRAGMA wal_autocheckpoint=100")
                db.executescript(SCHEMA)
            except BaseException:
                db.close()
                raise
            self._connection = db
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None


def _headers_text(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[name, value.decode("utf-8", "surrogateescape")] for name, value in headers])


def _headers(text: str) -> list[tuple[str, bytes]]:
    return [(name, value.encode("utf-8", "surrogateescape")) for name, value in json.loads(text)]

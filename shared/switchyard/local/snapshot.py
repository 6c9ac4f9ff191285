"""What ``make run`` creates survives a restart: the emulated tables and queues are saved under
``.switchyard/state/`` and put back at the next start.

moto keeps everything in memory. While the local runtime runs, :class:`Snapshots` saves every table
and queue that changed since its last save, at most once per ``interval_s``, and once more at a
clean stop (Ctrl-C, SIGTERM), after the gateway has written what it buffered. A SIGKILL loses what
changed since the last save: about ``interval_s`` (1 s) of state writes. A save holds the gate's
locks while it copies (pickles) what changed, about 35 µs per item: a larger state is saved less
often (every ten times the last save's duration), so saving never takes more than a tenth of the
emulator's time.

Saved are moto's own table and queue objects (items, TTL settings, messages with their receive
counts and visibility: a job in flight at a SIGKILL comes back when its visibility timeout ends),
each beside the template definition it was created from. At start a table or queue is put back
only if the template still defines it the same way; one whose definition changed starts empty,
and the start-up summary says so.

This module is the one place that reaches into moto's backends (``tables``, ``queues``); moto is
pinned in pyproject.toml and tests/integration/test_local_snapshot.py fails if it changes them.
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchyard.local.moto_gate import MotoGate
from switchyard.local.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_PREFIX,
    DEFAULT_REGION,
    queue_definitions,
    table_definitions,
    ttl_definitions,
)

FORMAT = 1
FILE_NAME = "aws.pickle"
INTERVAL_S = 1.0
# A save may take this share of the emulator's time, at most (see the module docstring).
_SAVE_SHARE = 0.1

Definition = dict[str, Any]


@dataclass(frozen=True)
class Definitions:
    """What the template defines: ``create_table`` (+ TTL) and ``create_queue`` kwargs by name."""

    tables: dict[str, Definition]
    queues: dict[str, Definition]

    @classmethod
    def of(cls, template: dict[str, Any], *, prefix: str = DEFAULT_PREFIX) -> Definitions:
        ttls = {d["TableName"]: d for d in ttl_definitions(template, prefix=prefix)}
        tables = {
            d["TableName"]: {"table": d, "ttl": ttls.get(d["TableName"])}
            for d in table_definitions(template, prefix=prefix)
        }
        queues = {d["QueueName"]: d for d in queue_definitions(template, prefix=prefix)}
        return cls(tables, queues)


@dataclass
class Restored:
    """What a start found in the state directory."""

    items: int = 0
    messages: int = 0
    saved_at: float | None = None  # None: nothing was saved there
    notes: list[str] = field(default_factory=list)  # what was not put back, and why

    def summary(self) -> str:
        if self.saved_at is None:
            text = "new"
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved_at))
            text = f"restored {self.items} items and {self.messages} queued messages saved {when}"
        return "; ".join([text, *self.notes])


class Snapshots:
    """Saves the emulated tables and queues to ``path``; puts them back with :meth:`restore`."""

    def __init__(
        self,
        path: Path,
        gate: MotoGate,
        definitions: Definitions,
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._gate = gate
        self._definitions = definitions
        self._interval_s = interval_s
        self._clock = clock
        self._blobs: dict[str, dict[str, bytes]] = {"tables": {}, "queues": {}}
        self._seen: dict[str, int] = {}
        self._saved_once = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-snapshots", daemon=True)
        self.failures = 0

    def restore(self) -> Restored:
        """Put back what the last run saved, before anything is provisioned or served. An
        unreadable file is moved aside (``<name>.unreadable``) and the run starts empty."""
        if not self.path.exists():
            return Restored()
        try:
            # Only this runtime writes the file, in a directory only its user can enter (0700).
            saved = pickle.loads(self.path.read_bytes())  # noqa: S301
            if saved.get("format") != FORMAT:
                raise ValueError(f"format {saved.get('format')!r}, not {FORMAT}")
            return self._put_back(saved)
        except Exception as exc:  # a file from another moto or switchyard: start clean, keep it
            aside = self.path.with_name(self.path.name + ".unreadable")
            os.replace(self.path, aside)
            self._blobs = {"tables": {}, "queues": {}}
            return Restored(notes=[f"could not read {self.path.name} ({exc}): moved it to {aside}"])

    def save(self) -> bool:
        """Save what changed since the last save (everything, the first time); False: nothing did."""
        dynamodb, sqs = _backends()
        with self._gate.quiet():
            changes = self._gate.changes()
            tables = [name for name in self._definitions.tables if self._moved(changes, f"dynamodb:{name}")]
            if self._moved(changes, "dynamodb:"):  # a write whose table was not recognized
                tables = list(self._definitions.tables)
            queues = list(self._definitions.queues) if self._moved(changes, "sqs") else []
            if self._saved_once and not tables and not queues:
                return False
            for name in tables:
                if name in dynamodb.tables:
                    self._blobs["tables"][name] = _dump(dynamodb.tables[name])
            for name in queues:
                if name in sqs.queues:
                    self._blobs["queues"][name] = _dump(sqs.queues[name])
            self._seen = changes
        self._write()
        self._saved_once = True
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop saving in the background, then save once more (a clean stop loses nothing)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.save()

    def _moved(self, changes: dict[str, int], key: str) -> bool:
        return not self._saved_once or changes.get(key, 0) != self._seen.get(key, 0)

    def _put_back(self, saved: dict[str, Any]) -> Restored:
        dynamodb, sqs = _backends()
        restored = Restored(saved_at=saved["saved_at"])
        for kind, store, definitions in (
            ("tables", dynamodb.tables, self._definitions.tables),
            ("queues", sqs.queues, self._definitions.queues),
        ):
            for name, entry in saved[kind].items():
                if definitions.get(name) != entry["definition"]:
                    gone = "is no longer in the template" if name not in definitions else "changed"
                    restored.notes.append(f"{name} {gone}: its saved state was dropped")
                    continue
                thing = pickle.loads(entry["blob"])  # noqa: S301  (from the file read above)
                store[name] = thing
                self._blobs[kind][name] = entry["blob"]
                if kind == "tables":
                    restored.items += len(thing)
                else:
                    restored.messages += len(thing._messages)  # visible or not
        return restored

    def _write(self) -> None:
        document = {
            "format": FORMAT,
            "saved_at": time.time(),
            **{
                kind: {
                    name: {"definition": definitions[name], "blob": blob}
                    for name, blob in self._blobs[kind].items()
                    if name in definitions
                }
                for kind, definitions in (
                    ("tables", self._definitions.tables),
                    ("queues", self._definitions.queues),
                )
            },
        }
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            pickle.dump(document, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)  # a reader (the next start) sees the old file or the new one

    def _run(self) -> None:
        from switchyard.observability import logger

        wait_s = self._interval_s
        while not self._stop.wait(wait_s):
            started = self._clock()
            try:
                self.save()
            except Exception:
                self.failures += 1
                logger.exception("local state not saved; trying again", extra={"path": str(self.path)})
            wait_s = max(self._interval_s, (self._clock() - started) / _SAVE_SHARE)


def _backends() -> tuple[Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    return (
        dynamodb_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION],
        sqs_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION],
    )


def _fresh_lock(_: object) -> tuple[Callable[[], Any], tuple[()]]:
    return threading.Lock, ()


def _fresh_rlock(_: object) -> tuple[Callable[[], Any], tuple[()]]:
    return threading.RLock, ()


def _fresh_condition(_: object) -> tuple[Callable[[], Any], tuple[()]]:
    return threading.Condition, ()


# moto's queues guard their messages with a Condition: saved as a new, unheld one.
_DISPATCH = {
    **copyreg.dispatch_table,
    type(threading.Lock()): _fresh_lock,
    type(threading.RLock()): _fresh_rlock,
    threading.Condition: _fresh_condition,
}


def _dump(thing: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(thing)
    return buffer.getvalue()


# -------------------------------------------------------------------------- the state directory


class StateDirBusy(Exception):
    """Another local runtime uses this state directory."""


@contextlib.contextmanager
def holding(directory: Path, *, wait_s: float = 0.0) -> Iterator[int]:
    """This process's claim on ``directory`` for as long as the context lasts: an advisory lock on
    ``directory/lock``, released by the OS when every process holding its file descriptor (yielded:
    pass it on to a child that must hold the claim too) has ended, even by SIGKILL. Waits up to
    ``wait_s`` for another holder to let go, then raises :class:`StateDirBusy`."""
    import fcntl

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / "lock").open("a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    raise StateDirBusy(handle.read().strip() or "another process") from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        try:
            yield handle.fileno()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

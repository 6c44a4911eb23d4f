"""Writers work on a private copy of the warehouse; readers read the last published file.

DuckDB lets no other process open a file at all while one holds it read-write, so the published file
(`dora.duckdb`) is never opened read-write. A writer:

1. takes the writer lock (`dora.duckdb.lock`, flock: writers queue, readers never look at it);
2. works on `dora.duckdb.writing`: a copy of the published file, or the copy an interrupted collect left
   (resumable: each of its batches committed the rows with their cursor) when it was made from the
   generation still published;
3. loads, transforms, then CHECKPOINT, close, fsync and `os.replace` onto the published path.

A copy that is either published or thrown away (a write's; never a collect's, which a later run may resume)
is flushed to disk in the background while the write runs: the fsync before the rename waits for it.

Readers open the published file read-only and are never blocked; one that is open keeps the old file
(inode) until it closes. A kill at any point leaves the published file as it was (or, after the rename,
fully updated); a copy killed in the middle of an import or transform is thrown away by the next writer.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.address import WarehouseError

# How long a writer waits for another writer (a long sync) before giving up.
WRITE_WAIT_SECONDS = float(os.environ.get("DORA_WRITE_WAIT", "3600"))
# `work_state` in the working copy's _doralytics table: only a collect's copy outlives its writer.
RESUMABLE = "resumable"
WRITING = "writing"


class LockTimeout(Exception):
    """Another writer held the warehouse longer than WRITE_WAIT_SECONDS."""


class StorageTooNew(WarehouseError):
    """A warehouse file in a storage format newer than the running DuckDB reads (a file DuckDB 2.x wrote in
    its own format, opened under the 1.4 line of `doralytics[lake]`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is stored in a newer DuckDB format than this DuckDB ({duckdb.__version__}) reads: "
            "open it with the default install (DuckDB 2.x), or make a copy both read with "
            f"`dora warehouse copy {path} NEW.duckdb` there"
        )


def work_path(path: Path) -> Path:
    return path.with_name(path.name + ".writing")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


class _Held:
    def __init__(self, fd: int) -> None:
        self.fd, self.count = fd, 1


_held: dict[Path, _Held] = {}
_held_lock = threading.Lock()


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def holding(path: Path) -> bool:
    """Whether this process holds the writer lock of the warehouse."""
    with _held_lock:
        return _key(path) in _held


@contextmanager
def exclusive(path: Path, wait: float | None = None) -> Iterator[None]:
    """The writer lock of a warehouse, re-entrant within the process (threads of one process share it).

    flock, not fcntl record locks: DuckDB's own fcntl locks on the database files are dropped by any
    close() of the file in the process; a flock on a separate file is tied to its own descriptor only.
    """
    key = _key(path)
    with _held_lock:
        held = _held.get(key)
        if held is not None:
            held.count += 1
    if held is None:
        fd = _acquire(key, WRITE_WAIT_SECONDS if wait is None else wait)
        with _held_lock:
            _held[key] = _Held(fd)
    try:
        yield
    finally:
        with _held_lock:
            held = _held[key]
            held.count -= 1
            if held.count == 0:
                del _held[key]
                # removed while held (so the folder holds only the warehouse between writes): a writer
                # waiting on this file finds it unlinked once it gets the lock, and takes a new one
                lock_path(key).unlink(missing_ok=True)
                os.close(held.fd)  # releases the flock


def _acquire(key: Path, wait: float) -> int:
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, lock_path(key)):
                return fd
            os.close(fd)  # its holder removed it when done: lock the one there now
            continue
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"another process has been writing {key.name} for over {wait:.0f} s (see "
                    f"{lock_path(key).name}); try again when it is done"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def snapshot(path: Path, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the file as it is now, in an instance of its own.

    DuckDB keeps one instance per path and process: a plain connect while another connection of this
    process is open would join the instance of the file that was there before the last publish.
    Attaching into a fresh in-memory instance always opens the current file.
    """
    con = duckdb.connect(":memory:", config=config or {})
    try:
        # a literal, not a parameter: DuckDB 1.4 takes no parameter in ATTACH
        con.execute(f"attach {sql_string(str(path))} as warehouse (read_only)")
        con.execute("use warehouse")
    except duckdb.IOException as exc:
        con.close()
        # "Trying to read a database file with version number 999, but we can only read versions ..."
        if "database file with version number" in str(exc):
            raise StorageTooNew(path) from exc
        raise
    except BaseException:
        con.close()
        raise
    return con


def sql_string(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _meta(path: Path, *keys: str) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(keys)
    con = snapshot(path)
    try:
        has_meta = con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'warehouse'"
            " and table_schema = 'main' and table_name = '_doralytics'"
        ).fetchall()[0][0]
        if has_meta:
            sql = "select key, value from main._doralytics where list_contains(?, key)"
            rows = con.execute(sql, [list(keys)]).fetchall()
            found.update(dict(rows))
    finally:
        con.close()
    return found


def generation(path: Path) -> str | None:
    """The id of the published state a file holds (a copy keeps its original's until it is published)."""
    return _meta(path, "generation")["generation"] if path.exists() else None


def resumable(path: Path) -> bool:
    """Whether the working copy of `path` was left by a collect on the generation still published."""
    work = work_path(path)
    if not work.exists():
        return False
    try:
        found = _meta(work, "generation", "work_state")
    except (duckdb.Error, StorageTooNew):
        return False  # a copy killed before its first checkpoint could be anything: start again
    return found["work_state"] == RESUMABLE and found["generation"] == generation(path)


def discard(path: Path) -> None:
    """Remove the working copy of `path` (and its WAL)."""
    work = work_path(path)
    _flushed(work)  # a copy thrown away: whether its flush failed no longer matters
    for name in (work, wal(work)):
        name.unlink(missing_ok=True)


def prepare(path: Path, background_flush: bool = False) -> tuple[Path, bool]:
    """The working copy to write, with the writer lock held: a resumable one is kept, anything else is
    replaced by a fresh copy of the published file (none when there is no published file yet).
    Returns (working copy, resumed).

    `background_flush`, for a copy that is published (`replace`) or thrown away (`discard`), never resumed:
    the copy goes to disk while the caller works on it, instead of before. Until then a crash may leave it
    torn, which is safe only because nothing but `replace`, after its own fsync, ever trusts such a copy."""
    work = work_path(path)
    if resumable(path):
        return work, True
    discard(path)
    if path.exists():
        snapshot(path).close()  # a file this DuckDB cannot read is refused here, saying why (StorageTooNew)
        _copy(path, work, background_flush)
        if wal(path).exists():  # left by a writer of an earlier version killed mid-way: replayed in the copy
            _copy(wal(path), wal(work))
    return work, False


def _copy(source: Path, target: Path, background_flush: bool = False) -> None:
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    if background_flush:
        _flush_in_background(partial, target)
    else:
        _fsync(partial)
    os.replace(partial, target)


# Background fsyncs of working copies (by the copy's final path): the thread, and the error it met if any.
_flushes: dict[Path, tuple[threading.Thread, list[OSError]]] = {}


def _flush_in_background(path: Path, known_as: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # follows the file through the rename to `known_as`
    errors: list[OSError] = []

    def flush() -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            errors.append(exc)
        finally:
            os.close(fd)

    thread = threading.Thread(target=flush, name=f"fsync {known_as.name}", daemon=True)
    with _held_lock:
        _flushes[_key(known_as)] = (thread, errors)
    thread.start()


def _flushed(path: Path) -> list[OSError]:
    """Wait for the background flush of `path` if one was started; the error it met, if any."""
    with _held_lock:
        pending = _flushes.pop(_key(path), None)
    if pending is None:
        return []
    thread, errors = pending
    thread.join()
    return errors


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_generation() -> str:
    return uuid.uuid4().hex


def fault_point(name: str) -> None:
    """For the fault-injection tests: with DORA_FAULT_POINTS set, say on stderr that a writer reached
    `name`; with `pause:name` in it, stop there until killed. Does nothing otherwise."""
    points = os.environ.get("DORA_FAULT_POINTS")
    if not points:
        return
    os.write(2, f"fault point: {name}\n".encode())
    if f"pause:{name}" in points.split(","):
        while True:
            time.sleep(60)


def upgrade_path(path: Path) -> Path:
    """Where a reader that finds no warehouse, or an older schema, builds the new file (never the working
    copy: a collect's resumable copy must not be published without its transform)."""
    return path.with_name(path.name + ".upgrading")


def copy_for_upgrade(path: Path) -> Path:
    work = upgrade_path(path)
    for name in (work, wal(work)):
        name.unlink(missing_ok=True)
    if path.exists():
        _copy(path, work)
    return work


def replace(path: Path, work: Path | None = None) -> None:
    """Publish the closed, checkpointed working copy of `path` (or `work`) in one rename."""
    work = work or work_path(path)
    if wal(work).exists():
        raise RuntimeError(f"{work} still has a write-ahead log after its checkpoint: not published")
    if errors := _flushed(work):
        raise errors[0]
    _fsync(work)
    # A WAL left beside the published file by an earlier version's killed writer was replayed into the
    # copy: it must not be replayed again onto the new file.
    wal(path).unlink(missing_ok=True)
    os.replace(work, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)

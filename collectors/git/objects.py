"""Git's own object format, read with `git cat-file --batch`: a commit or tag is a length-prefixed blob of
bytes, so nothing a message holds (separators, NULs, fake headers) can add or alter a record.

A commit becomes a canonical row, or a `Malformed` with the reason it cannot be normalised. Times come from
the epoch seconds of the author/committer/tagger lines, read as UTC: a timezone that is malformed (git itself
calls `+051800` bad) does not change the instant and is only counted as repaired; an instant outside any
plausible range (before 1970, after 2100) is malformed.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.base import CollectorError

EARLIEST = dt.datetime(1970, 1, 1)
LATEST = dt.datetime(2100, 1, 1)
TIMEZONE = re.compile(rb"^[+-](\d\d)([0-5]\d)$")
MAX_OFFSET_HOURS = 14  # no zone on Earth is further from UTC
LOWEST = int(EARLIEST.replace(tzinfo=dt.UTC).timestamp())
HIGHEST = int(LATEST.replace(tzinfo=dt.UTC).timestamp())


class Malformed(Exception):
    """An object that cannot be normalised: quarantined with this reason, the run goes on."""


@dataclass(frozen=True)
class Stamp:
    """A person line's name and instant; `repaired` when its timezone was malformed."""

    name: str
    at: dt.datetime
    repaired: bool


@dataclass(frozen=True)
class Commit:
    row: dict[str, Any]  # sha, parents, authored_at, committed_at, author, message
    repaired: bool  # a timezone was malformed, the instant kept


@dataclass(frozen=True)
class Tag:
    target: str
    target_type: str
    tagger: Stamp | None  # None: an old tag object without a tagger line


def read_objects(path: Path | str, shas: Sequence[str]) -> Iterator[tuple[str, str | None, bytes]]:
    """(sha, type, content) of each object, in order; type None when the repository lacks it."""
    if not shas:
        return
    try:
        process = subprocess.Popen(
            ["git", "-C", str(path), "cat-file", "--batch", "--buffer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise CollectorError("git is not installed (or not on PATH)") from exc
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def feed() -> None:
        try:
            for sha in shas:
                stdin.write(sha.encode("ascii") + b"\n")
            stdin.close()
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, name="cat-file-feed", daemon=True)
    writer.start()
    try:
        for sha in shas:
            header = stdout.readline()
            if not header:
                raise CollectorError(f"git cat-file in {path} stopped before object {sha}")
            parts = header.split()
            if len(parts) < 3 or parts[1] == b"missing":
                yield sha, None, b""
                continue
            size = int(parts[2])
            data = stdout.read(size)
            stdout.read(1)  # the newline after the content
            yield parts[0].decode("ascii"), parts[1].decode("ascii"), data
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        writer.join(timeout=5)
        stdout.close()


def headers(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header lines (key, value; continuation lines folded into the value) and the message."""
    head, _, body = data.partition(b"\n\n")
    out: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n"):
        if line.startswith(b" ") and out:
            key, value = out[-1]
            out[-1] = (key, value + b"\n" + line[1:])
        elif line:
            key, _, value = line.partition(b" ")
            out.append((key, value))
    return out, body


def codec(name: bytes | None) -> str:
    """The Python codec of an `encoding` header; UTF-8 when there is none or it is unknown."""
    if name:
        try:
            return codecs.lookup(name.decode("ascii", "replace").strip()).name
        except LookupError:
            pass
    return "utf-8"


def text(value: bytes, encoding: str) -> str:
    # a NUL cannot be stored in a VARCHAR cell nor in a CSV: it becomes U+FFFD like any undecodable byte
    return value.decode(encoding, "replace").replace("\x00", "\ufffd")


def stamp(value: bytes, what: str, encoding: str) -> Stamp:
    """`Name <email> EPOCH TZ` -> the name and the instant (UTC)."""
    ident, bracket, when = value.rpartition(b">")
    if not bracket:
        raise Malformed(f"{what} line without <email>: {text(value[:80], encoding)!r}")
    name = ident.rpartition(b"<")[0].strip()
    fields = when.split()
    if not fields or not re.fullmatch(rb"-?\d{1,20}", fields[0]):
        raise Malformed(f"{what} line without a time: {text(value[:80], encoding)!r}")
    epoch = int(fields[0])
    if not LOWEST <= epoch < HIGHEST:
        raise Malformed(
            f"{what} time {epoch} (epoch seconds) is outside {EARLIEST:%Y-%m-%d}..{LATEST:%Y-%m-%d}"
        )
    zone = TIMEZONE.match(fields[1]) if len(fields) == 2 else None
    repaired = zone is None or int(zone.group(1)) > MAX_OFFSET_HOURS
    return Stamp(text(name, encoding), EARLIEST + dt.timedelta(seconds=epoch), repaired)


def parse_commit(sha: str, data: bytes) -> Commit:
    """A commit object as a canonical commits row (without repo), or Malformed."""
    fields, body = headers(data)
    encoding = codec(next((v for k, v in fields if k == b"encoding"), None))
    parents = [v.decode("ascii", "replace").strip() for k, v in fields if k == b"parent"]
    if any(not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", p) for p in parents):
        raise Malformed("a parent line that is not a sha")
    author = next((v for k, v in fields if k == b"author"), None)
    if author is None:
        raise Malformed("no author line")
    authored = stamp(author, "author", encoding)
    committer = next((v for k, v in fields if k == b"committer"), None)
    committed = stamp(committer, "committer", encoding) if committer is not None else None
    message = text(body, encoding).rstrip("\r\n")
    row = {
        "sha": sha,
        "parents": parents,
        "authored_at": authored.at,
        "committed_at": committed.at if committed else None,
        "author": authored.name,
        "message": message,
    }
    return Commit(row, authored.repaired or bool(committed and committed.repaired))


def parse_tag(data: bytes) -> Tag:
    """A tag object: what it points at, and its tagger (None when the line is absent)."""
    fields, _ = headers(data)
    values = dict(fields)
    target = values.get(b"object", b"").decode("ascii", "replace").strip()
    kind = values.get(b"type", b"").decode("ascii", "replace").strip()
    if not target or not kind:
        raise Malformed("tag object without object/type lines")
    tagger = values.get(b"tagger")
    return Tag(target, kind, stamp(tagger, "tagger", "utf-8") if tagger is not None else None)


def describe(data: bytes) -> dict[str, Any]:
    """What a quarantined object held, for a person to read: its header lines and the start of its message."""
    fields, body = headers(data)
    return {
        "headers": [text(k + b" " + v, "utf-8")[:300] for k, v in fields if k != b"gpgsig"],
        "message": text(body[:300], "utf-8"),
    }


def existing(path: Path | str, shas: Iterable[str], kind: str = "commit") -> list[str]:
    """Those of `shas` that are objects of `kind` in the repository."""
    wanted = list(dict.fromkeys(shas))
    return [sha for sha, found, _ in read_objects(path, wanted) if found == kind]

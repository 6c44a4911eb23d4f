"""The edges of a bundle (issue 12 "Import edges", issue 10 line numbers): whatever the warehouse holds
round-trips through `dora export bundle` and `dora import` (a 3 MB message included); offsets beyond
+-14:00 are refused; an undecodable byte is located at its real line and column; a row beyond the size
limit is named with the limit; lines are counted as editors and `grep -n` count them."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import dora
from warehouse import db, export, load
from warehouse.bundle import BundleError

SERVICES = "service,repo,team\ncheckout,acme/checkout,payments\n"
DEPLOYMENTS = "deployment_id,service,environment,commit_sha,started_at,finished_at,status\n"
COMMITS = "repo,sha,parents,authored_at,committed_at,author,message\n"


def bundle(folder: Path, **files: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "services.csv").write_text(SERVICES)
    for name, text in files.items():
        target = folder / f"{name}.csv"
        target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def refused(warehouse: Path, folder: Path) -> str:
    result = dora("--warehouse", str(warehouse), "import", str(folder), check=False)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message
    return message


def core_rows(path: Path, table: str) -> list[tuple]:
    with db.read(path) as con:
        return con.execute(f"select * exclude (_load_id) from core.{table} order by all").fetchall()


@pytest.mark.parametrize("offset", ["+25:00", "-14:30", "+1401", "+05:75", "+99"])
def test_an_offset_beyond_14_hours_is_refused(tmp_path, warehouse, offset):
    row = f"D1,checkout,production,abcdef1,,2026-03-01T00:00:00{offset},success\n"
    message = refused(warehouse, bundle(tmp_path / "b", deployments=DEPLOYMENTS + row))
    assert "deployments.csv:2:finished_at" in message and "14:00" in message and offset in message, message
    assert not core_rows(warehouse, "deployments")


def test_offsets_up_to_14_hours_are_fine(tmp_path, warehouse):
    rows = (
        "D1,checkout,production,abcdef1,,2026-03-01T14:00:00+14:00,success\n"
        "D2,checkout,production,abcdef2,,2026-03-01T00:00:00-1400,success\n"
        "D3,checkout,production,abcdef3,,2026-03-01T05:30:00+05:30,success\n"
    )
    dora("--warehouse", str(warehouse), "import", str(bundle(tmp_path / "b", deployments=DEPLOYMENTS + rows)))
    finished = [r[6] for r in core_rows(warehouse, "deployments")]
    assert finished == [dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 1, 14), dt.datetime(2026, 3, 1)]


def test_a_latin1_byte_is_located_at_its_line_and_column(tmp_path, warehouse):
    folder = bundle(tmp_path / "b")
    (folder / "services.csv").write_bytes(SERVICES.encode() + b"search,acme/search,caf\xe9\n")
    message = refused(warehouse, folder)
    assert "services.csv:3:team" in message and "UTF-8" in message and "0xe9" in message, message


def test_a_latin1_byte_in_the_header_is_on_line_1(tmp_path, warehouse):
    folder = bundle(tmp_path / "b")
    (folder / "services.csv").write_bytes(b"service,repo,t\xe9am\n")
    message = refused(warehouse, folder)
    assert "services.csv:1" in message and "UTF-8" in message and "0xe9" in message, message


def grep_line(path: Path, text: str) -> int:
    found = subprocess.run(["grep", "-n", "-a", text, str(path)], capture_output=True, text=True, check=True)
    return int(found.stdout.split(":", 1)[0])


def test_lines_are_counted_as_grep_counts_them(tmp_path, warehouse):
    """Bare CRs inside a quoted message are not line breaks; CRLF is one; a LF inside quotes is one."""
    rows = (
        b'acme/checkout,abcdef1,,2026-03-01T00:00:00Z,,ana,"one\rtwo\rthree\r\r\rfour"\r\n'
        b'acme/checkout,abcdef2,,2026-03-01T00:00:00Z,,ana,"five\nsix\r\nseven"\r\n'
        b"acme/checkout,abcdef3,,yesterday,,ana,eight\r\n"
    )
    folder = bundle(tmp_path / "b", commits=COMMITS.replace("\n", "\r\n").encode() + rows)
    line = grep_line(folder / "commits.csv", "yesterday")
    assert line == 6
    assert f"commits.csv:{line}:authored_at" in refused(warehouse, folder)
    # the same file with an undecodable byte instead: the same line
    good = rows.replace(b"yesterday", b"2026-03-01T00:00:00Z")
    (folder / "commits.csv").write_bytes(COMMITS.replace("\n", "\r\n").encode() + good)
    (folder / "commits.csv").write_bytes((folder / "commits.csv").read_bytes().replace(b"eight", b"\xff"))
    assert f"commits.csv:{line}:message" in refused(warehouse, folder)


def test_a_3mb_message_round_trips_through_export_and_import(tmp_path, warehouse):
    big = "x" * 3_000_000 + '\nsecond line, "quoted"\r\nthird\rend'
    row = f'acme/checkout,abcdef1,,2026-03-01T00:00:00Z,,ana,"{big.replace(chr(34), chr(34) * 2)}"\n'
    dora("--warehouse", str(warehouse), "import", str(bundle(tmp_path / "b", commits=COMMITS + row)))
    assert core_rows(warehouse, "commits")[0][6] == big
    out = tmp_path / "out"
    dora("--warehouse", str(warehouse), "export", "bundle", str(out))
    copy = tmp_path / "copy.duckdb"
    dora("--warehouse", str(copy), "import", str(out))
    assert core_rows(copy, "commits") == core_rows(warehouse, "commits")
    dora("--warehouse", str(copy), "import", str(out))  # again, into tables with rows: staged
    assert core_rows(copy, "commits") == core_rows(warehouse, "commits")


def test_a_row_beyond_the_limit_is_named_with_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "MAX_LINE_BYTES", 1_000_000)
    rows = 'acme/checkout,abcdef1,,2026-03-01T00:00:00Z,,ana,"short\nmessage"\n'
    rows += f"acme/checkout,abcdef2,,2026-03-01T00:00:00Z,,ana,{'y' * 1_500_000}\n"
    folder = bundle(tmp_path / "b", commits=COMMITS + rows)
    with db.write(tmp_path / "w.duckdb") as con, pytest.raises(BundleError) as error:
        load.import_bundle(con, folder)
    message = str(error.value)
    assert message.startswith("commits.csv:4:message:"), message
    assert "1,500,0" in message and "limit" in message and "1,000,000 bytes" in message, message


TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


def frames(messages: list[str], authors: list[str], titles: list[str], labels: list[list[str]]) -> dict:
    n = len(messages)
    commits = pd.DataFrame(
        {
            "repo": ["acme/checkout"] * n,
            "sha": [f"{i:07x}" for i in range(n)],
            "parents": [[] for _ in range(n)],
            "authored_at": [dt.datetime(2026, 1, 1, 0, 0, 0, 123456)] * n,
            "committed_at": [None] * n,
            "author": authors,
            "message": messages,
        }
    )
    prs = pd.DataFrame(
        {
            "repo": ["acme/checkout"] * n,
            "number": list(range(1, n + 1)),
            "title": titles,
            "author": authors,
            **{c: [None] * n for c in ("created_at", "first_commit_at", "first_review_at", "merged_at")},
            **{c: [None] * n for c in ("merge_commit_sha", "head_branch", "base_branch")},
            "labels": labels,
        }
    )
    services = pd.DataFrame(
        {"service": ["checkout"], "repo": ["acme/checkout"], "team": [" pay "], "paths": [[]]}
    )
    return {"services": services, "commits": commits, "pull_requests": prs}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            TEXT,
            TEXT,
            TEXT,
            st.lists(st.text(st.characters(codec="utf-8", exclude_characters=";"), max_size=8), max_size=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_whatever_the_warehouse_holds_round_trips(tmp_path_factory, rows):
    """Rows loaded by a collector (load_frames), exported, imported: the same core rows."""
    tmp = tmp_path_factory.mktemp("rt")
    messages, authors, titles, labels = (list(c) for c in zip(*rows, strict=True))
    with db.write(tmp / "a.duckdb") as con:
        load.load_frames(con, frames(messages, authors, titles, labels), "test", "x")
        export.export_bundle(con, tmp / "out")
    with db.write(tmp / "b.duckdb") as con:
        load.import_bundle(con, tmp / "out")
    for table in ("services", "commits", "pull_requests"):
        assert core_rows(tmp / "b.duckdb", table) == core_rows(tmp / "a.duckdb", table)


def test_odd_text_round_trips(tmp_path):
    odd = [
        "",
        " lead",
        "trail ",
        "a\rb",
        "a\r\nb",
        '"q"',
        "x\x00y",
        "\ufeffbom",
        "\t",
        "null",
        "\\N",
        "\u2028",
    ]
    with db.write(tmp_path / "a.duckdb") as con:
        load.load_frames(con, frames(odd, odd, odd, [[" a ", "", "b"]] * len(odd)), "test", "x")
        export.export_bundle(con, tmp_path / "out")
    with db.write(tmp_path / "b.duckdb") as con:
        load.import_bundle(con, tmp_path / "out")
    commits = core_rows(tmp_path / "b.duckdb", "commits")
    assert commits == core_rows(tmp_path / "a.duckdb", "commits")
    assert [c[6] for c in commits] == odd  # messages are kept exactly, the empty one included
    assert core_rows(tmp_path / "b.duckdb", "pull_requests") == core_rows(
        tmp_path / "a.duckdb", "pull_requests"
    )


def test_a_malformed_row_after_a_multiline_message_is_at_its_physical_line(tmp_path):
    """DuckDB numbers records; the error gives the physical line, and says why."""
    rows = 'acme/checkout,abcdef1,,2026-03-01T00:00:00Z,,ana,"one\ntwo\nthree"\n'
    rows += "acme/checkout,abcdef2,,2026-03-01T00:00:00Z,,ana,four,extra\n"
    folder = bundle(tmp_path / "b", commits=COMMITS + rows)
    with db.write(tmp_path / "w.duckdb") as con, pytest.raises(BundleError) as error:
        load.import_bundle(con, folder)
    assert str(error.value) == (
        "commits.csv:5: not a valid CSV file: Expected Number of Columns: 7 Found: 8"
    ), str(error.value)


def test_old_mac_line_ends_are_read(tmp_path):
    folder = bundle(tmp_path / "b")
    (folder / "services.csv").write_bytes(b"service,repo,team\rcheckout,acme/checkout,pay\rsearch,acme/s,\r")
    with db.write(tmp_path / "w.duckdb") as con:
        assert load.import_bundle(con, folder) == {"services": 2}
    (folder / "services.csv").write_bytes(
        b"service,repo,team\rcheckout,acme/checkout,pay\rsearch,acme/s,caf\xe9\r"
    )
    with db.write(tmp_path / "w.duckdb") as con, pytest.raises(BundleError) as error:
        load.import_bundle(con, folder)
    assert str(error.value).startswith("services.csv:3:team: not UTF-8 (byte 0xe9)"), str(error.value)

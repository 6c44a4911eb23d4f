"""The statement fence of ad-hoc SQL: what `dora sql` and the dashboard's SQL page may run at all.

Checked on the text before anything runs, in the process that asks and again in the query's own process:

- one statement, of a reading kind (SELECT and its forms, PIVOT, EXPLAIN of one of those);
- no table function but the few that read no file and show no server detail (`range`, `unnest`,
  `duckdb_tables`, ...): the others read files, run other statements (`query`, `json_execute_serialized_sql`),
  change the session (`enable_profiling`, `checkpoint`) or show the server's paths (`duckdb_databases`,
  `duckdb_settings`);
- none of the system views built on those (`duckdb_databases`, `pg_settings`, ...), and `current_setting`
  only of a named setting that holds no path.

The names come from the tokens DuckDB's own parser reads, so a quoted, schema-qualified or mixed-case name is
the same name; a call the check cannot read (a computed setting name) is refused, not guessed at.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

READ_ONLY = "dora sql is read-only: INSERT/UPDATE/DELETE/CREATE/DROP/ALTER ... are not allowed"
NO_FILES = "dora sql cannot read or write files"
NO_ATTACH = "dora sql cannot attach or detach databases"
NO_EXTENSIONS = "dora sql cannot install or load extensions"
NO_SETTINGS = "dora sql cannot change settings (SET, RESET, USE, PRAGMA x = ...)"
NO_SERVER = "dora sql does not show the server's paths, databases or settings"
NO_CATALOG = "dora sql does not reach the lake's catalog database (PostgreSQL) or its maintenance functions"
ONE_QUERY = "dora sql runs one query at a time (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"

_T = duckdb.StatementType
# MULTI is what a PIVOT without an IN list parses to; it runs fine read-only and the connection fences hold.
_QUERIES = {_T.SELECT, _T.MULTI}
_WRITES = (_T.INSERT, _T.UPDATE, _T.DELETE, _T.MERGE_INTO, _T.CREATE, _T.CREATE_FUNC, _T.DROP, _T.ALTER)
REFUSED = {
    **dict.fromkeys(_WRITES, READ_ONLY),
    _T.VACUUM: READ_ONLY,
    _T.ANALYZE: READ_ONLY,
    _T.COPY: NO_FILES,
    _T.EXPORT: NO_FILES,
    _T.ATTACH: NO_ATTACH,
    _T.DETACH: NO_ATTACH,
    _T.COPY_DATABASE: NO_ATTACH,
    _T.LOAD: NO_EXTENSIONS,
    _T.EXTENSION: NO_EXTENSIONS,
    _T.SET: NO_SETTINGS,
    _T.VARIABLE_SET: NO_SETTINGS,
}

# Table functions that read only the warehouse's catalog or make rows, and show no path. Not `histogram`:
# it reads a table named by a string, which the check cannot see (histogram('duckdb_databases', path)).
TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        "summary",
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_dependencies",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_sequences",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "pragma_table_info",
        "pragma_show",
        "pragma_storage_info",
        "pragma_version",
        "pragma_platform",
        "pg_timezone_names",
        "icu_calendar_names",
        "test_all_types",
    }
)
# Refused with NO_SERVER rather than the general message: these exist to show the server.
_SERVER_DETAILS = frozenset(
    {
        "duckdb_databases",
        "pragma_database_list",
        "duckdb_settings",
        "duckdb_secrets",
        "which_secret",
        "duckdb_extensions",
        "duckdb_extension_repositories",
        "duckdb_temporary_files",
        "duckdb_external_file_cache",
        "duckdb_memory",
        "duckdb_logs",
        "duckdb_log_contexts",
        "pragma_database_size",
        "pragma_user_agent",
    }
)
_READS_FILES = re.compile(r"^(read_|parquet_|sniff_csv$|glob$|.*_scan$)")
# The lake's extensions (warehouse/lake.py): their table functions reach the PostgreSQL catalog directly
# (postgres_query, postgres_execute), change or show the lake (ducklake_*), and DuckLake answers each
# ducklake_x also as a bare x() of the attached lake (snapshots(), table_info(), set_option(), ...). Named
# here, so a connection without the extensions loaded (the asking process) refuses them too.
LAKE_FUNCTIONS = frozenset(
    {
        "ducklake_add_data_files",
        "ducklake_cleanup_old_files",
        "ducklake_current_snapshot",
        "ducklake_delete_orphaned_files",
        "ducklake_expire_snapshots",
        "ducklake_flush_inlined_data",
        "ducklake_last_committed_snapshot",
        "ducklake_list_files",
        "ducklake_merge_adjacent_files",
        "ducklake_options",
        "ducklake_rewrite_data_files",
        "ducklake_set_commit_message",
        "ducklake_set_option",
        "ducklake_snapshots",
        "ducklake_table_changes",
        "ducklake_table_deletions",
        "ducklake_table_info",
        "ducklake_table_insertions",
        "pg_clear_cache",
        "postgres_attach",
        "postgres_execute",
        "postgres_query",
        "postgres_scan",
        "postgres_scan_pushdown",
    }
)
# The catalog database DuckLake attaches beside the lake (__ducklake_metadata_<name>): its tables are the
# lake's PostgreSQL catalog, read or written around DuckLake.
_LAKE_CATALOG = "__ducklake_metadata"
# Settings that name a file or folder (checked by name here, and by value on the connection).
_PATH_SETTING = re.compile(r"dir|path|file|home|secret|repositor|storage|log|profil|output|allowed|extension")


# An absolute path inside a setting's value: at its start or after a list's bracket or separator.
_ABSOLUTE = re.compile(r"(^|[\[,\s'\"])(/|~|[A-Za-z]:\\)")
# What the refusal of another table function shows of the allowed ones.
_SHOWN = "range, generate_series, unnest, json_each, summary, duckdb_tables, duckdb_columns, ..."


class Refused(Exception):
    """A statement the fence does not let through; the message is one line meant for the user."""


@dataclass(frozen=True)
class Catalog:
    """What DuckDB itself knows: its table functions, and the system views built on refused ones."""

    table_functions: frozenset[str]
    views: frozenset[str]


@functools.cache
def catalog() -> Catalog:
    """Read once per process from a throw-away in-memory database (the same built-ins as the warehouse's)."""
    con = duckdb.connect()
    try:
        functions = frozenset(
            name.lower()
            for (name,) in con.execute(
                "select distinct function_name from duckdb_functions()"
                " where function_type in ('table', 'table_macro')"
            ).fetchall()
        )
        views = con.execute("select view_name, sql from duckdb_views() where internal").fetchall()
    finally:
        con.close()
    refused = {name for name in functions if name not in TABLE_FUNCTIONS}
    # What a connection with the lake's extensions knows, whether or not this one loaded them.
    functions = functions | lake_functions()
    blocked: set[str] = set()
    # A view on a refused function (pg_settings on duckdb_settings()), or on such a view, is refused too.
    changed = True
    while changed:
        changed = False
        for name, sql in views:
            name = name.lower()
            if name in blocked:
                continue
            used = {token.name for token in tokens(sql or "") if token.name}
            if name in refused or used & (refused | blocked):
                blocked.add(name)
                changed = True
    return Catalog(functions, frozenset(blocked))


def lake_functions() -> frozenset[str]:
    """The lake's table functions, each also by the bare name DuckLake answers it to (snapshots, ...)."""
    bare = {name.removeprefix("ducklake_") for name in LAKE_FUNCTIONS if name.startswith("ducklake_")}
    return LAKE_FUNCTIONS | bare


@dataclass(frozen=True)
class Token:
    kind: duckdb.token_type
    text: str
    start: int

    @property
    def name(self) -> str | None:
        """What an identifier or keyword token names: unquoted and lower case, as DuckDB matches names."""
        if self.kind not in (duckdb.token_type.identifier, duckdb.token_type.keyword):
            return None
        text = self.text
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('""', '"')
        return text.lower()


def tokens(sql: str) -> list[Token]:
    """The tokens of `sql` without comments, each with its text."""
    try:
        found = duckdb.tokenize(sql)
    except duckdb.Error as exc:
        raise Refused(f"cannot read the query: {one_line(str(exc))}") from exc
    out = []
    for index, (start, kind) in enumerate(found):
        end = found[index + 1][0] if index + 1 < len(found) else len(sql)
        if kind != duckdb.token_type.comment:
            out.append(Token(kind, sql[start:end].strip(), start))
    return out


def check(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single query, with a message naming what is not allowed."""
    found = tokens(sql)
    if found and found[0].name == "import":
        # DuckDB 1.4 reads IMPORT DATABASE's folder while parsing it: refused before it is parsed.
        raise Refused(f"{ONE_QUERY}: PRAGMA is not allowed (IMPORT DATABASE)")
    statements = _statements(con, sql)
    if not statements:
        raise Refused("no query given")
    if len(statements) > 1:
        raise Refused(f"{ONE_QUERY}: got {len(statements)} statements")
    kind = _kind(statements[0])
    if kind == _T.EXPLAIN:
        inner = _statements(con, _explained(statements[0].query))
        if len(inner) != 1:
            raise Refused(f"{ONE_QUERY}: EXPLAIN takes one query")
        kind = _kind(inner[0])
        if kind == _T.EXPLAIN:
            raise Refused(f"{ONE_QUERY}: EXPLAIN takes one query")
    if kind not in _QUERIES:
        raise Refused(REFUSED.get(kind, f"{ONE_QUERY}: {kind.name} is not allowed"))
    _check_names(con, tokens(sql))


def _statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    try:
        found = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(one_line(str(exc))) from exc
    # DuckDB 1.4 expands a PIVOT without an IN list into the parser's own CREATE of an enum of the pivoted
    # values (no text of the query's) and then the query: that is one query, the last statement.
    if len(found) > 1 and all(_kind(s) == _T.CREATE and not s.query.strip() for s in found[:-1]):
        return found[-1:]
    return found


def _kind(statement: duckdb.Statement) -> duckdb.StatementType:
    try:
        kind = statement.type
    except ValueError as exc:  # a statement type the Python enum does not know (UPDATE EXTENSIONS)
        raise Refused(f"{ONE_QUERY}: {_first_words(statement.query)} is not allowed") from exc
    if kind.name == "???":  # how DuckDB 1.4 names such a type
        raise Refused(f"{ONE_QUERY}: {_first_words(statement.query)} is not allowed")
    return kind


def _first_words(sql: str) -> str:
    words = [t.text.upper() for t in tokens(sql)[:2] if t.kind == duckdb.token_type.keyword]
    return " ".join(words) or "this statement"


def _explained(sql: str) -> str:
    """The statement an EXPLAIN [ANALYZE | (options)] explains (and, with ANALYZE, runs)."""
    found = tokens(sql)
    position = 1  # found[0] is EXPLAIN: the statement type says so
    if position < len(found) and found[position].name in ("analyze", "analyse"):
        position += 1
    elif position < len(found) and found[position].text == "(":
        depth = 1
        position += 1
        while position < len(found) and depth:
            depth += {"(": 1, ")": -1}.get(found[position].text, 0)
            position += 1
    if position >= len(found):
        raise Refused(f"{ONE_QUERY}: EXPLAIN takes one query")
    return sql[found[position].start :]


def _check_names(con: duckdb.DuckDBPyConnection, found: list[Token]) -> None:
    known = catalog()
    for index, token in enumerate(found):
        name = token.name
        if name is None:
            continue
        called = index + 1 < len(found) and found[index + 1].text == "("
        if name.startswith(_LAKE_CATALOG) or (called and name in lake_functions()):
            raise Refused(f"{NO_CATALOG}: {name}{'()' if called else ''} is not allowed")
        if name in known.views or (name in _SERVER_DETAILS and not called):
            raise Refused(f"{NO_SERVER}: {name} is not allowed")
        if called and name in known.table_functions and name not in TABLE_FUNCTIONS:
            if name in _SERVER_DETAILS:
                raise Refused(f"{NO_SERVER}: {name}() is not allowed")
            if _READS_FILES.match(name):
                raise Refused(NO_FILES)
            raise Refused(f"{name}() is not allowed in dora sql (table functions: {_SHOWN})")
        if called and name == "current_setting":
            _check_setting(con, found[index + 2 : index + 4])


def _check_setting(con: duckdb.DuckDBPyConnection, argument: list[Token]) -> None:
    """current_setting('name') of a setting that holds no path; any other form cannot be checked."""
    if (
        len(argument) < 2
        or argument[0].kind != duckdb.token_type.string_const
        or argument[1].text != ")"
        or not argument[0].text.startswith("'")
    ):
        raise Refused(f"{NO_SERVER}: current_setting takes a setting's name in quotes here")
    name = argument[0].text[1:-1].replace("''", "'")
    if _PATH_SETTING.search(name.lower()) or name.lower() in _path_settings(con):
        raise Refused(f"{NO_SERVER}: current_setting('{name}') is not allowed")


def _path_settings(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Settings whose value holds an absolute path (not a time zone such as Europe/Berlin)."""
    rows = con.execute("select lower(name), value from duckdb_settings()").fetchall()
    return {name for name, value in rows if value and _ABSOLUTE.search(value)}


def one_line(text: str) -> str:
    """DuckDB's message up to the source excerpt ("LINE 1: ..."), which only makes sense in a terminal."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("LINE ") or (lines and not line.strip()):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)


# An absolute path in a message: after a quote, bracket, space or `=`, a folder then more (/etc/x, ~/x;
# not 1/0, and not a lone /x).
_PATH_IN_TEXT = re.compile(r"""(?:(?<=^)|(?<=[\s"'(\[=:,]))(?:~|/[\w.~-]+)/[^\s"',:)\]]*""")


def redacted(text: str, paths: Iterator[str] | list[str]) -> str:
    """`text` with each of `paths` (longest first), and any other absolute path, as <server path>."""
    for path in sorted({p for p in paths if p and p != "/"}, key=len, reverse=True):
        text = text.replace(path, "<server path>")
    return _PATH_IN_TEXT.sub("<server path>", text)

"""The base of every dora.toml section: typed pydantic models whose errors name the key path.

Each part of the product declares its own section as a `Section` subclass (warehouse: `[metrics]`;
collectors: `[github]`, `[gitlab]`, `[pagerduty]`, `[git]`; reports: `[report]`, `[smtp]`, `[schedule]`)
and reads it with `parse`. This module imports no project code, so any layer may build on it.

Messages read the same whatever the section: `github.repo."acme/x".workflow: expected a string, got int`.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    import duckdb

CONFIG_FILE = "dora.toml"


class ConfigError(Exception):
    """A dora.toml problem, its message starting with the key path it concerns."""


def _compiled(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("regex_type", "expected a string, got {got}", {"got": _type_name(value)})
    try:
        return re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex_invalid",
            "invalid regular expression {value}: {error}",
            {"value": repr(value), "error": str(exc)},
        ) from exc


def _regex_text(value: Any) -> str:
    return _compiled(value).pattern


@functools.lru_cache(maxsize=256)
def duckdb_regex_error(pattern: str) -> str | None:
    """Why DuckDB's engine (RE2) cannot compile `pattern`, or None: RE2 has no lookaround or backreferences
    that Python's re accepts, and limits repetition counts to 1000."""
    import duckdb  # only when a setting holds a regex that SQL runs

    with closing(_regex_engine().cursor()) as con:
        try:
            con.execute("select regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
    return None


@functools.cache
def _regex_engine() -> duckdb.DuckDBPyConnection:
    """One empty in-memory DuckDB for every check of the process (each new database costs ~25 ms); each
    check runs on a cursor of its own, so threads may check at once."""
    import duckdb

    return duckdb.connect()


def _duckdb_regex(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("regex_type", "expected a string, got {got}", {"got": _type_name(value)})
    error = duckdb_regex_error(value)
    if error is not None:
        raise PydanticCustomError(
            "regex_invalid",
            "invalid regular expression {value} for DuckDB, which runs it in SQL: {error}",
            {"value": repr(value), "error": error},
        )
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "expected a number, got {got}", {"got": _type_name(value)})
    if not math.isfinite(value):
        raise PydanticCustomError("number_finite", "expected a finite number, got {value}", {"value": value})
    return float(value)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PydanticCustomError("strings_type", "expected a list of strings", {})
    return tuple(value)


Str = StrictStr
Int = StrictInt
Bool = StrictBool
# A finite number; TOML integers are accepted and read as floats.
Number = Annotated[float, BeforeValidator(_number)]
NonNegative = Annotated[float, BeforeValidator(_number), Field(ge=0)]
Positive = Annotated[float, BeforeValidator(_number), Field(gt=0)]
# A regular expression checked by the engine that runs it. Python's re: `Pattern` is compiled once on load,
# `Regex` keeps the checked text. DuckDB's RE2 (a regex the SQL runs): `SqlRegex`. Both: `SharedRegex`.
Pattern = Annotated[re.Pattern[str], BeforeValidator(_compiled)]
Regex = Annotated[str, BeforeValidator(_regex_text)]
SqlRegex = Annotated[str, BeforeValidator(_duckdb_regex)]
SharedRegex = Annotated[str, BeforeValidator(_regex_text), AfterValidator(_duckdb_regex)]
Strings = Annotated[tuple[str, ...], BeforeValidator(_strings)]


def nonempty(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must not be empty", {})
    return value


NonEmpty = Annotated[str, Field(strict=True), AfterValidator(nonempty)]


def existing_file(value: str) -> str:
    if not os.path.isfile(value):
        raise PydanticCustomError("no_file", "{value}: no such file", {"value": value})
    return value


# The path of a file that must exist, such as a CA bundle.
File = Annotated[str, Field(strict=True), AfterValidator(existing_file)]


def matching(pattern: str, message: str) -> AfterValidator:
    """Text that must match `pattern` from its start; `message` says what else it is, e.g.
    `matching(r"^[^/]+/[^/]+$", "{value} is not OWNER/NAME")` ({value} is the text, quoted)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise PydanticCustomError("mismatch", message, {"value": repr(value)})
        return value

    return AfterValidator(check)


def most(limit: float, message: str) -> AfterValidator:
    """An upper bound that says why: `Annotated[Int, most(100, "GitHub serves at most 100 per page")]`."""

    def check(value: float) -> float:
        if value > limit:
            raise PydanticCustomError("limit", message, {})
        return value

    return AfterValidator(check)


class Section(BaseModel):
    """A dora.toml table: unknown keys are errors, values are checked, the result is immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    # Said after the list of known keys, e.g. where a secret comes from instead.
    unknown_hint: ClassVar[str] = ""

    def replaced(self, **changes: Any) -> Self:
        """A copy with `changes` applied and validated like the file's values (command-line options)."""
        return self.model_validate({**self.model_dump(by_alias=True), **changes})

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        if not isinstance(data, Mapping):
            raise PydanticCustomError("table_type", "expected a table, got {got}", {"got": _type_name(data)})
        known = [field.alias or name for name, field in cls.model_fields.items()]
        for key in data:
            if key not in known:
                hint = f"; {cls.unknown_hint}" if cls.unknown_hint else ""
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key (known: {known}{hint})",
                    {"key": key, "known": ", ".join(known), "hint": hint},
                )
        return data


S = TypeVar("S", bound=BaseModel)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return type(value).__name__


def key_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """`github`, `repo`, `acme/x`, `workflow` -> github.repo."acme/x".workflow; list items as [i]."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f".{part}" if text else part
        else:
            text += f'."{part}"' if text else f'"{part}"'
    return text


def _message(error: Mapping[str, Any]) -> tuple[tuple[str | int, ...], str]:
    kind = error["type"]
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part and "]" in part))
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "unknown_key":
        return (*loc, ctx["key"]), error["msg"]
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    if kind in _EXPECTED:
        return loc, f"expected {_EXPECTED[kind]}, got {_type_name(value)}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return loc, f"expected one of {expected}, got {value!r}"
    if kind == "greater_than_equal" and ctx.get("ge") == 0:
        return loc, "must not be negative"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "more than"}.get(kind, "at most")
        limit = next(iter(ctx.values()), "")
        return loc, f"must be {bound} {limit}, got {value!r}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return loc, message


def errors_of(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """Every problem of a failed validation as `key.path: message`, in the order pydantic found them."""
    out = []
    for error in exc.errors(include_url=False):
        loc, message = _message(error)
        path = key_path((*prefix, *loc))
        out.append(f"{path}: {message}" if path else message)
    return out


def overridden(options: Mapping[str, Any]) -> dict[str, Any]:
    """The command-line options that were given (None is an option left out), to pass to `parse`."""
    return {key: value for key, value in options.items() if value is not None}


def parse(model: type[S], body: Any, *where: str | int, **values: Any) -> S:
    """`body` (a dora.toml table) validated as `model`; `values` override keys (command-line options).
    The first problem becomes a ConfigError naming its key path under `where` (e.g. "github")."""
    if body is None:
        body = {}
    if isinstance(body, Mapping) and values:
        body = {**body, **values}
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(errors_of(exc, where)[0]) from None


T = TypeVar("T")


def read(path: str | os.PathLike[str] | None, build: Callable[[dict[str, Any], Path], T]) -> T | None:
    """dora.toml's tables made into settings by `build`: the given path (must exist), else $DORA_CONFIG, else
    ./dora.toml; None without a file. Problems become a ConfigError that starts with the file's name."""
    explicit = path or os.environ.get("DORA_CONFIG")
    candidate = Path(explicit) if explicit else Path(CONFIG_FILE)
    text = _text(candidate, required=bool(explicit))
    if text is None:
        return None
    try:
        return build(tomllib.loads(text), candidate)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: {exc}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{candidate}: {exc}") from exc


# A dora.toml is a few kilobytes; a bigger file (or /dev/zero) is not one.
MOST_CONFIG_BYTES = 1 << 20


def _text(path: Path, required: bool) -> str | None:
    """The file's UTF-8 text; None when it is missing and not required; else a one-line ConfigError."""
    try:
        if not path.exists():
            if required:
                raise ConfigError(f"{path}: no such file")
            return None
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder, not a file")
        if not path.is_file():
            raise ConfigError(f"{path}: is not a regular file")
        with path.open("rb") as file:
            data = file.read(MOST_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MOST_CONFIG_BYTES:
        raise ConfigError(f"{path}: more than {MOST_CONFIG_BYTES // 1024} KB: not a dora.toml")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path}: line {line}, column {column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None

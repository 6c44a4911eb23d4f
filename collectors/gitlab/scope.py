"""What every step of a GitLab project's collector shares: its settings, the lists walked newest-updated
first from the last run's mark, and the guard that quarantines an object no row can be made of."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from collectors import runner
from collectors.base import MissingField, parse_ts
from collectors.gitlab.client import Api, iso
from collectors.gitlab.settings import GitlabSettings, ProjectSettings
from warehouse.batch import Batch


def when(item: Any, key: str) -> dt.datetime | None:
    """A timestamp of a listed item, None where the item or the value is unusable."""
    try:
        return parse_ts(item.get(key)) if isinstance(item, dict) else None
    except (TypeError, ValueError):
        return None


def key_of(payload: Any, field: str) -> str:
    """The key an object is quarantined under: its id, or for what is no object a digest of it."""
    if isinstance(payload, dict):
        return str(payload.get(field))
    return "unusable:" + hashlib.sha1(repr(payload).encode()).hexdigest()[:12]


class ProjectScope(runner.Scope):
    """One project's cursors and batch writes (runner.Scope), and what its steps share."""

    api: Api
    settings: GitlabSettings
    project: ProjectSettings
    base: str
    default_branch: str
    deployed: dict[str, dt.datetime]  # the deployed commits of this run -> when (their history is wanted)
    unmatched: dict[str, int]  # environments no service takes -> deployments not counted

    def guarded(self, batch: Batch, entity: str, key: str, payload: Any, make: Callable[[Any], Any]) -> Any:
        """`make(payload)`, or None with the payload quarantined with its reason (a field missing, null
        or of the wrong type): one unusable object never stops the others."""
        if not isinstance(payload, dict):
            problem = f"{entity} of {self.name}: not an object ({type(payload).__name__})"
            self.quarantine(batch, entity, key, MissingField(problem), payload)
            return None
        try:
            return make(payload)
        except MissingField as exc:
            self.quarantine(batch, entity, key, exc, payload)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            problem = f"{entity} {key} of {self.name}: unusable field ({type(exc).__name__}: {exc})"[:500]
            self.quarantine(batch, entity, key, MissingField(problem), payload)
        return None

    def since_iso(self) -> str | None:
        since = self.settings.since
        return f"{since.isoformat()}T00:00:00.000000Z" if since else None

    def walk(
        self, entity: str, path: str, params: dict[str, Any], what: str, start: str | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Pages of items updated since the last run, newest first, with the cursor to save after each.

        GitLab's updated_after is inclusive: the items at the mark come again, and those the last run
        saw there (`mark_keys`) are dropped, so that a run with nothing new fetches no details.
        """
        state = self.cursor(entity)
        mark, mark_keys = state.get("mark"), set(state.get("mark_keys") or [])
        if state.get("resume"):
            url: str | None = state["resume"]
            query: dict[str, Any] | None = None
            top, top_keys = state.get("top"), state.get("top_keys") or []
        else:
            url = path
            query = {**params, "order_by": "updated_at", "sort": "desc", "per_page": self.settings.per_page}
            after = mark or start or self.since_iso()
            if after:
                query["updated_after"] = after
            top, top_keys = None, []
        while url:
            items, next_url = self.api.page(url, query, f"{self.name}: {what}")
            if top is None:
                found = {str(i.get("id")): when(i, "updated_at") for i in items if isinstance(i, dict)}
                stamps = {k: v for k, v in found.items() if v is not None}
                newest = max(stamps.values(), default=None)
                top = iso(newest) if newest else mark
                top_keys = (
                    sorted(k for k, v in stamps.items() if v == newest) if newest else sorted(mark_keys)
                )
            at_mark = parse_ts(mark) if mark else None
            items = [
                i
                for i in items
                if not (
                    at_mark
                    and isinstance(i, dict)
                    and when(i, "updated_at") == at_mark
                    and str(i.get("id")) in mark_keys
                )
            ]
            if next_url:
                walking = {"mark": mark, "mark_keys": sorted(mark_keys), "resume": next_url}
                yield items, {**walking, "top": top, "top_keys": top_keys}
            else:
                yield items, {"mark": top, "mark_keys": top_keys, "resume": None}
            url, query = next_url, None

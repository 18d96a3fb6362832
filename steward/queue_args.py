"""The queue filters of a console page, read from the query string (or a form) and written back into links.

    f = QueueArgs.from_request(request.args, conflicts=True)
    page = queues.open_conflicts(config, scope=user.scopes, **f.query(), limit=PAGE_SIZE, offset=f.offset)
    url_for("conflicts.detail", conflict_id=..., **f.link())        # the detail page keeps the queue's filters

Names (the same on both queues; `field` only on conflicts): entity (person|house), field, grid, community (code or
name prefixes), min_age (days), state ('' = the default queue, pending left out | open | reopened | field_visit |
escalated | pending | all), page (1-based). A value that is not one of these is dropped, not an error: a
mistyped link shows the unfiltered queue rather than a failure page. Pure: no Flask import.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

PAGE_SIZE = 50
ENTITIES = ("person", "house")
CONFLICT_STATES = ("open", "reopened", "field_visit", "pending", "all")
REVIEW_STATES = ("open", "escalated", "reopened", "pending", "all")
MAX_TEXT = 64


def _text(value) -> str:
    return str(value or "").strip()[:MAX_TEXT]


def _int(value, low: int, high: int) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if low <= n <= high else None


@dataclass(frozen=True)
class QueueArgs:
    entity: str = ""
    field: str = ""
    grid: str = ""
    community: str = ""
    min_age: int | None = None
    state: str = ""
    page: int = 1

    @classmethod
    def from_request(cls, args, *, conflicts: bool) -> QueueArgs:
        """From a MultiDict/dict of strings; unknown or malformed values are dropped."""
        entity = _text(args.get("entity"))
        state = _text(args.get("state"))
        states = CONFLICT_STATES if conflicts else REVIEW_STATES
        return cls(entity=entity if entity in ENTITIES else "",
                   field=_text(args.get("field")) if conflicts else "",
                   grid=_text(args.get("grid")), community=_text(args.get("community")),
                   min_age=_int(args.get("min_age"), 0, 100_000), state=state if state in states else "",
                   page=_int(args.get("page"), 1, 1_000_000) or 1)

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def query(self, *, conflicts: bool = True) -> dict:
        """Keyword arguments for queues.open_conflicts / match_reviews (page size and offset apart)."""
        out = {"entity": self.entity or None, "grid": self.grid or None, "community": self.community or None,
               "state": self.state or None, "min_age_days": self.min_age}
        if conflicts:
            out["field"] = self.field or None
        return out

    def filters(self) -> dict:
        """The non-empty filters (for a bulk action: decide.FILTER_KEYS names)."""
        out = {"entity": self.entity, "field": self.field, "grid": self.grid, "community": self.community,
               "min_age_days": self.min_age, "state": self.state}
        return {k: v for k, v in out.items() if v not in (None, "")}

    def link(self, **changes) -> dict:
        """The non-default values as query-string arguments (for url_for), with `changes` applied."""
        values = asdict(self) | changes
        return {k: v for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)}

    @property
    def active(self) -> bool:
        return bool(self.link(page=1))

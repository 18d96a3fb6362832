"""Counts on the console's home page: what waits for the user, within their scopes (`queues.counts`).

`home_counts(config, user)` returns {key: count} in display order; `LABELS` names each key (the keys are those of
`queues.counts`: reviews waiting, open conflicts by entity, conflicts by state). `home.html` renders them.
"""
from __future__ import annotations

from steward import queues

LABELS = {
    "reviews": "待复核匹配",
    "person": "待处理人员字段差异",
    "house": "待处理房屋字段差异",
    "field_visit": "待网格员核实",
    "pending": "已决定，下次同步生效",
}
LINKS = {                      # where each count leads: endpoint and query arguments
    "reviews": ("reviews.queue", {}),
    "person": ("conflicts.queue", {"entity": "person"}),
    "house": ("conflicts.queue", {"entity": "house"}),
    "field_visit": ("conflicts.queue", {"state": "field_visit"}),
    "pending": ("decisions.log", {}),
}


def home_counts(config, user) -> dict[str, int]:
    """Reviews and conflicts in the user's default queues (pending decisions left out), the conflicts waiting for a
    field visit, and what was decided since the last sync (conflicts and reviews)."""
    c = queues.counts(config, list(getattr(user, "scopes", ()) or ()))
    conflicts, reviews = c["conflicts"], c["reviews"]
    return {"reviews": reviews["queue"],
            "person": conflicts["by_entity"].get("person", 0),
            "house": conflicts["by_entity"].get("house", 0),
            "field_visit": conflicts["by_state"].get("field_visit", 0),
            "pending": conflicts["by_state"].get("pending", 0) + reviews["by_state"].get("pending", 0)}

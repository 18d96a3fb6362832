"""Counts on the console's home page. A stub until the work queues land.

`home_counts(config, user)` returns {key: value} in display order, for what `user` may see (`user.scopes`).
A value is an int, or a dict {"label": "待复核匹配", "count": 12, "url": "/reviews"} (label/url optional); a plain
int is labelled by `LABELS` (else by its key). `home.html` renders whatever comes back; {} shows a placeholder.
"""
from __future__ import annotations

LABELS = {
    "match_review": "待复核匹配",
    "person_conflict": "待处理人员冲突",
    "house_conflict": "待处理房屋冲突",
    "field_visit": "待网格员核实",
}


def home_counts(config, user) -> dict:
    return {}

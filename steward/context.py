"""What a console page needs inside a request, without importing the app factory (no import cycles).

    from steward.context import get_config, user_store
    config = get_config()          # schemas.config.Config loaded once by create_app (config.warehouse_path …)
    users = user_store()           # steward.users.UserStore on the config's state.sqlite

Decisions and the run log are read and written through `steward.store.state(config)` (the one path for the
console, the CLI and the tests).

`add_nav(app, endpoint, label, role)` puts a link in the top bar for users with at least `role`; call it from a
blueprint's `record_once` hook so registering the blueprint is all it takes (see `admin.py`).
"""
from __future__ import annotations

from flask import Flask, current_app

EXTENSION = "gridbridge"


def _ext(app: Flask | None = None) -> dict:
    return (app or current_app).extensions[EXTENSION]


def get_config():
    """The console's `schemas.config.Config`."""
    return _ext()["config"]


def user_store():
    """`steward.users.UserStore` on the same state file."""
    return _ext()["users"]


def add_nav(app: Flask, endpoint: str, label: str, role: str = "viewer") -> None:
    """A top-bar link to `endpoint`, shown to users with at least `role` (order of registration)."""
    nav = _ext(app)["nav"]
    if all(n[0] != endpoint for n in nav):
        nav.append((endpoint, label, role))

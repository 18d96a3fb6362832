"""Helpers for the console's tests: a throwaway config + app, CSRF tokens from pages, logging in.

    app = make_app(tmp_path)                       # create_app on a minimal config; state under tmp_path/wh
    app = console(config_path)                     # … on a given config (e.g. a synced demo)
    add_users(app, ("ann", "steward", []))         # password: password_for("ann")
    client = app.test_client(); login(client, "ann")
    post(client, "/some/endpoint", {"field": "x"}) # with the page's CSRF token
"""
from __future__ import annotations

import re
from pathlib import Path

from argon2 import PasswordHasher

from steward.app import create_app
from steward.context import EXTENSION

CONFIG = """\
sources:
  police:
    connector: csv
    path: police.csv
    entities:
      person: {key: k, columns: {name: 姓名}}
  grid:
    connector: csv
    path: grid.csv
    entities:
      person: {key: k, columns: {name: 姓名}}
warehouse: {path: wh/gridbridge.duckdb}
"""
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" type="hidden" value="([^"]+)"'
                    r'|type="hidden" name="csrf_token" value="([^"]+)"')


def write_config(root: Path) -> Path:
    path = Path(root) / "gridbridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def console(config_path: Path, fast_hashing: bool = True, **kwargs):
    """The console on `config_path`. `fast_hashing`: the app's user store hashes with cheap argon2 parameters (a
    login costs ~1 ms instead of ~150 ms); the store's own default is tested in test_auth.py."""
    app = create_app(config_path, testing=True, **kwargs)
    if fast_hashing:
        app.extensions[EXTENSION]["users"].hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return app


def make_app(root: Path, fast_hashing: bool = True, **kwargs):
    """The console on a minimal config under `root` (no warehouse yet)."""
    return console(write_config(root), fast_hashing, **kwargs)


def password_for(username: str) -> str:
    return f"{username}-correct horse 电池"


def add_users(app, *users) -> None:
    """users: (name, role, scopes) tuples; each gets password_for(name)."""
    store = app.extensions[EXTENSION]["users"]
    for name, role, scopes in users:
        store.add_user(name, password_for(name), role, scopes)


def csrf_from(html: str) -> str:
    m = _TOKEN.search(html)
    assert m, "no CSRF token on the page"
    return next(g for g in m.groups() if g)


def csrf_token(client, path: str = "/") -> str:
    """A CSRF token for the client's session, read from a page (the login page when logged out)."""
    resp = client.get(path)
    if resp.status_code == 302:
        resp = client.get("/login")
    return csrf_from(resp.get_data(as_text=True))


def login(client, username: str, password: str | None = None, next_url: str | None = None):
    token = csrf_token(client, "/login")
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password_for(username) if password is None else password,
                                  "csrf_token": token})


def post(client, path: str, data: dict | None = None, token: str | None = None, **kwargs):
    """POST with a valid CSRF token (or `token` as given: "" sends none)."""
    data = dict(data or {})
    token = csrf_token(client) if token is None else token
    if token:
        data["csrf_token"] = token
    return client.post(path, data=data, **kwargs)

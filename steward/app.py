"""`create_app(config_path)`: the stewards' console as a Flask app (served by waitress: `gridbridge steward`).

Security, in one place for every page (details in auth.py):
- Flask-Login sessions in a signed cookie (HttpOnly, SameSite=Lax, Secure when GRIDBRIDGE_STEWARD_SECURE_COOKIES=1,
  i.e. behind HTTPS); idle timeout PERMANENT_SESSION_LIFETIME (30 min, `session_minutes=` or
  GRIDBRIDGE_STEWARD_SESSION_MINUTES), 12 h at most;
- the signing key is made once and kept in `<state dir>/steward_secret` (0600), so sessions survive restarts;
- CSRFProtect on every POST/PUT/PATCH/DELETE (forms: `{{ csrf_token() }}`; scripts: the `csrf-token` meta tag
  sent as the `X-CSRFToken` header);
- pages are never cached and may not be framed; scripts only from /static (Content-Security-Policy).

Pages: `PAGES` lists the blueprint modules (each exposes `bp`) registered after login/CSRF are in place.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import secrets
from pathlib import Path

from flask import Flask, current_app, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from steward.auth import init_auth
from steward.context import EXTENSION, get_config
from steward.users import ROLE_LABELS, UserStore

log = logging.getLogger("gridbridge.steward")
PAGES = ("steward.pages_reviews", "steward.pages_conflicts", "steward.pages_decisions", "steward.admin")
SECRET_FILE = "steward_secret"
DEFAULT_SESSION_MINUTES = 30.0
SESSION_MAX_SECONDS = 12 * 3600
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
csrf = CSRFProtect()


def secret_key(state_dir: Path) -> str:
    """The session signing key in `<state dir>/steward_secret`: made once (0600, never overwritten: two processes
    starting together agree on the first one written), read on every start."""
    path = Path(state_dir) / SECRET_FILE
    if not path.exists():
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: session key is missing or too short; delete the file to make a new one")
    return key


def create_app(config_path, *, testing: bool = False, session_minutes: float | None = None,
               blueprints=()) -> Flask:
    """The console for the config at `config_path`. `blueprints`: extra blueprints (tests, plug-ins)."""
    from schemas.config import load
    from steward.store import state

    config = load(config_path)
    app = Flask(__name__)
    app.extensions[EXTENSION] = {"config": config, "users": UserStore(state(config).path), "nav": []}
    if session_minutes is None:
        session_minutes = float(os.environ.get("GRIDBRIDGE_STEWARD_SESSION_MINUTES", DEFAULT_SESSION_MINUTES))
    app.config.update(
        SECRET_KEY=secret_key(config.state_dir),
        TESTING=testing,
        SESSION_COOKIE_NAME="gridbridge_steward",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("GRIDBRIDGE_STEWARD_SECURE_COOKIES") == "1",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=session_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        STEWARD_SESSION_MAX_SECONDS=SESSION_MAX_SECONDS,
        WTF_CSRF_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,           # a token lives as long as its session (which expires on its own)
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
    )
    app.json.ensure_ascii = False            # JSON answers keep Chinese readable
    init_auth(app)                           # login required everywhere; read-only viewers; idle timeout
    csrf.init_app(app)
    app.add_url_rule("/", "home", home)
    for name in PAGES:
        app.register_blueprint(importlib.import_module(name).bp)
    for bp in blueprints:
        app.register_blueprint(bp)
    _install_page_helpers(app)
    return app


def home():
    from steward.home import LABELS, LINKS, home_counts
    from steward.store import NoWarehouse

    notice = None
    try:
        counts = home_counts(get_config(), current_user)
    except NoWarehouse as e:
        counts, notice = {}, str(e)
    except Exception:
        if current_app.testing:
            raise
        log.exception("home page counts failed")
        counts, notice = {}, "暂时无法读取数据仓库的计数，请稍后刷新"
    items = [{"key": k, "label": LABELS.get(k, k), "count": v, "href": url_for(LINKS[k][0], **LINKS[k][1])}
             for k, v in counts.items()]
    return render_template("home.html", items=items, notice=notice)


def _error(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


def _install_page_helpers(app: Flask) -> None:
    from steward.page_helpers import label, sees_full_values, shown
    from steward.store import NoWarehouse

    @app.context_processor
    def _globals():
        nav = []
        if current_user.is_authenticated:
            nav = [{"endpoint": e, "label": label} for e, label, role in app.extensions[EXTENSION]["nav"]
                   if current_user.has_role(role)]
        return {"nav": nav, "role_labels": ROLE_LABELS, "shown": shown, "label": label,
                "full_values": sees_full_values()}

    @app.errorhandler(CSRFError)
    def _csrf(e):
        log.warning("CSRF check failed: %s %s (%s)", request.method, request.path, e.description)
        return _error(400, "请求已失效", "页面已过期或表单校验失败，请刷新页面后重试。")

    app.register_error_handler(403, lambda e: _error(403, "没有权限", "您的账号没有执行此操作的权限。"))
    # the data layer's refusals, for every page: no warehouse yet (no successful sync) and out of role/scope
    app.register_error_handler(NoWarehouse, lambda e: _error(503, "还没有数据", str(e)))
    app.register_error_handler(PermissionError, lambda e: _error(403, "没有权限", str(e) or "您的账号没有执行此操作的权限。"))
    app.register_error_handler(404, lambda e: _error(404, "页面不存在", "找不到这个页面。"))
    app.register_error_handler(405, lambda e: _error(405, "不支持的操作", "这个页面不支持此请求方式。"))

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

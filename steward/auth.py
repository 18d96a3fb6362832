"""Login, sessions and roles for the console (Flask-Login + Flask-WTF forms; CSRF is CSRFProtect's, in app.py).

Rules, enforced for every request by `init_auth(app)` (so a new page cannot forget them):
- login required everywhere but `/login` and `/static/…` (unknown URLs too: they redirect to the login page);
- sessions end after `PERMANENT_SESSION_LIFETIME` without a request (idle, 30 min by default) and after
  `STEWARD_SESSION_MAX_SECONDS` in all (12 h); a password change or disabling the user ends its sessions;
- a viewer only reads: any POST/PUT/PATCH/DELETE needs the `steward` role unless the view is marked
  `@any_role_may_post` (logout, own password). Pages state their own minimum with `@require_role(...)`.
Failed logins are logged (user name masked, never the password) and one name is locked for `LOCKOUT_SECONDS`
after `MAX_FAILURES` failures in a row; the message is the same for unknown names, wrong passwords and locks
never say whether a name exists.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from steward.context import user_store
from steward.users import MAX_PASSWORD, ROLES, StewardUser, UserError, role_at_least

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("auth", __name__)

BAD_LOGIN = "用户名或密码错误"
LOCKED = "登录失败次数过多，请 5 分钟后再试"
TIMED_OUT = "登录已超时，请重新登录"
MAX_FAILURES = 10
LOCKOUT_SECONDS = 300
PUBLIC_ENDPOINTS = {"auth.login", "static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def now() -> float:
    """Wall clock for session ages and lockouts (tests replace it)."""
    return time.time()


def _masked(name: str) -> str:
    from schemas.normalise.masking import mask_text

    return repr(mask_text((name or "")[:64]))  # repr: no newlines or control characters in the log


# --- the user object Flask-Login keeps ------------------------------------------------------------
class ConsoleUser(UserMixin):
    """`current_user`: `.username`, `.role`, `.role_label`, `.scopes` (prefix list, empty = all), `.has_role(r)`.
    Scopes are applied by the queues (`queues.scope_mask`) and by every decision (`decide.require_scope`)."""

    def __init__(self, record: StewardUser):
        self.record = record
        self.username = record.username
        self.role = record.role
        self.role_label = record.role_label
        self.scopes = list(record.scopes)

    def get_id(self) -> str:  # the epoch: a password change / disable ends the sessions issued before it
        return f"{self.username}:{self.record.session_epoch}"

    def has_role(self, needed: str) -> bool:
        return role_at_least(self.role, needed)


def _load_user(user_id: str):
    username, _, epoch = (user_id or "").rpartition(":")
    record = user_store().get(username) if username else None
    if record is None or record.disabled or str(record.session_epoch) != epoch:
        return None
    return ConsoleUser(record)


# --- role decorators --------------------------------------------------------------------------------
def require_role(role: str):
    """View decorator: 403 unless the logged-in user has at least `role` (viewer < steward < admin)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_role(role):
                log.warning("refused %s %s to user %s (role %s, needs %s)", request.method, request.path,
                            _masked(current_user.username), current_user.role, role)
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def any_role_may_post(view):
    """Mark a view whose POST a viewer may make too (only for the user's own session/account)."""
    view.any_role_may_post = True
    return view


# --- login throttle ---------------------------------------------------------------------------------
class LoginThrottle:
    """Per user name: after `max_failures` failures in a row the name is locked for `lockout_s` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, lockout_s: float = LOCKOUT_SECONDS):
        self.max_failures, self.lockout_s = max_failures, lockout_s
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one)

    @staticmethod
    def key(username: str) -> str:
        return (username or "").strip().casefold()[:64]

    def locked(self, username: str) -> bool:
        with self._lock:
            count, last = self._failures.get(self.key(username), (0, 0.0))
            if count >= self.max_failures and now() - last < self.lockout_s:
                return True
            if count >= self.max_failures:  # the lockout is over: start counting again
                self._failures.pop(self.key(username), None)
            return False

    def failed(self, username: str) -> bool:
        """Count a failure; True when the name is now locked."""
        with self._lock:
            t = now()
            if len(self._failures) > 10_000:  # unknown names must not grow memory without bound
                self._failures = {k: v for k, v in self._failures.items() if t - v[1] < self.lockout_s}
            count = self._failures.get(self.key(username), (0, 0.0))[0] + 1
            self._failures[self.key(username)] = (count, t)
            return count >= self.max_failures

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self.key(username), None)


# --- per-request rules --------------------------------------------------------------------------------
def _end_stale_session():
    if "_user_id" not in session:
        return
    t = now()
    idle = current_app.permanent_session_lifetime.total_seconds()
    seen, start = session.get("seen"), session.get("login_at")
    if seen is None or start is None or t - seen > idle or t - start > current_app.config["STEWARD_SESSION_MAX_SECONDS"]:
        logout_user()
        session.clear()
        flash(TIMED_OUT, "info")
        return
    session["seen"] = t


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    view = current_app.view_functions.get(request.endpoint)
    if (request.method not in SAFE_METHODS and not getattr(view, "any_role_may_post", False)
            and not current_user.has_role("steward")):
        log.warning("refused %s %s to user %s (role %s: read only)", request.method, request.path,
                    _masked(current_user.username), current_user.role)
        abort(403)
    return None


def init_auth(app) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "请先登录"
    manager.login_message_category = "info"
    manager.session_protection = "strong"
    manager.user_loader(_load_user)
    app.extensions["gridbridge"]["throttle"] = LoginThrottle()
    app.before_request(_end_stale_session)
    app.before_request(_require_login)
    app.register_blueprint(bp)


# --- pages ----------------------------------------------------------------------------------------------
class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=MAX_PASSWORD)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    new = PasswordField("新密码", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    repeat = PasswordField("再次输入新密码", validators=[DataRequired(), Length(max=MAX_PASSWORD)])


def safe_path(target: str | None, default: str | None = None) -> str:
    """`target` when it is a path on this site (no scheme, no host, not `//host`), else `default` (the home page):
    no open redirect after login or after an undo."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return default or url_for("home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home"))
    form, error = LoginForm(), None
    throttle: LoginThrottle = current_app.extensions["gridbridge"]["throttle"]
    if form.validate_on_submit():
        name = form.username.data.strip()
        if throttle.locked(name):
            log.warning("login refused for user %s from %s: locked after %d failures", _masked(name),
                        request.remote_addr, throttle.max_failures)
            error = LOCKED
        else:
            record = user_store().verify(name, form.password.data)
            if record is None:
                if throttle.failed(name):
                    log.warning("user %s locked for %d s after %d failed logins", _masked(name),
                                throttle.lockout_s, throttle.max_failures)
                log.warning("failed login for user %s from %s", _masked(name), request.remote_addr)
                error = BAD_LOGIN
            else:
                throttle.succeeded(name)
                session.clear()
                login_user(ConsoleUser(record))
                session.permanent = True
                session["login_at"] = session["seen"] = now()
                log.info("login: user %s (%s) from %s", _masked(record.username), record.role, request.remote_addr)
                return redirect(safe_path(request.args.get("next")))
    elif request.method == "POST":
        error = BAD_LOGIN  # an empty field: the same message
    return render_template("login.html", form=form, error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@any_role_may_post
def logout():
    log.info("logout: user %s", _masked(current_user.username))
    logout_user()
    session.clear()
    flash("已退出", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@any_role_may_post
def password():
    form, error = PasswordForm(), None
    if form.validate_on_submit():
        store = user_store()
        if store.verify(current_user.username, form.current.data) is None:
            error = "当前密码错误"
        elif form.new.data != form.repeat.data:
            error = "两次输入的新密码不一致"
        else:
            try:
                record = store.set_password(current_user.username, form.new.data)
            except UserError as e:
                error = str(e)
            else:
                login_user(ConsoleUser(record))  # the new epoch: this session stays, older ones end
                log.info("password changed: user %s", _masked(record.username))
                flash("密码已修改", "info")
                return redirect(url_for("home"))
    elif request.method == "POST":
        error = "请填写所有字段"
    return render_template("password.html", form=form, error=error), (400 if error else 200)

"""The console's security: login everywhere, wrong passwords, session expiry, CSRF, roles, scopes, the user CLI."""
import argparse
import io
import logging
import sqlite3
import time

import pytest
from flask import Blueprint
from flask_login import current_user

from pipelines import steward_cmd
from steward import auth
from steward.auth import require_role
from steward.context import EXTENSION
from steward.users import UserError, UserStore, in_scope, role_at_least
from tests.steward.support import add_users, csrf_token, login, make_app, password_for, post

# a steward-only decision endpoint, an unmarked POST and a page showing the user's scopes (the real decision
# endpoints come with the queue pages; these exercise the same decorators and global rules)
probe = Blueprint("probe", __name__)


@probe.route("/decide-test", methods=["POST"])
@require_role("steward")
def decide_test():
    return {"decided_by": current_user.username}


@probe.route("/unmarked-post", methods=["POST"])
def unmarked_post():
    return {"ok": True}


@probe.route("/whoami")
def whoami():
    return {"username": current_user.username, "role": current_user.role, "scopes": current_user.scopes}


USERS = (("amy", "admin", []), ("sam", "steward", ["640105007", "640105008"]), ("vic", "viewer", []))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("steward"), blueprints=[probe])
    add_users(app, *USERS)
    return app


@pytest.fixture
def clock(monkeypatch):
    """Replace the console's clock: clock.t is the current time, advance it by assignment."""
    class Clock:
        t = time.time()
    c = Clock()
    monkeypatch.setattr(auth, "now", lambda: c.t)
    return c


def _redirects_to_login(resp) -> bool:
    return resp.status_code == 302 and resp.headers["Location"].split("?")[0].endswith("/login")


# --- login required everywhere ------------------------------------------------------------------------
def test_every_route_but_login_and_static_needs_a_login(app):
    client = app.test_client()
    token = csrf_token(client, "/login")
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.login"):
            continue
        url = rule.build({a: "1" for a in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert _redirects_to_login(resp), (method, url, resp.status_code)
            checked.append(rule.endpoint)
    assert {"home", "auth.logout", "auth.password", "admin.users", "admin.add_user", "probe.decide_test",
            "probe.whoami", "conflicts.queue", "conflicts.detail", "conflicts.decide_one", "conflicts.bulk_preview",
            "conflicts.bulk_apply", "conflicts.at", "reviews.queue", "reviews.detail", "reviews.decide_one",
            "reviews.at", "decisions.log", "decisions.undo"} <= set(checked)
    assert _redirects_to_login(client.get("/no/such/page"))
    assert client.get("/login").status_code == 200
    assert client.get("/static/steward.css").status_code == 200
    resp = client.get("/users")
    assert "next=" in resp.headers["Location"]


def test_login_lands_on_next_but_never_off_site(app):
    client = app.test_client()
    resp = login(client, "amy", next_url="/users")
    assert resp.status_code == 302 and resp.headers["Location"] == "/users"
    assert client.get("/users").status_code == 200
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = app.test_client()
        resp = login(other, "amy", next_url=target)
        assert resp.headers["Location"] == "/", target


# --- wrong password -----------------------------------------------------------------------------------
def test_wrong_password_gives_one_generic_message_and_is_logged_without_the_password(app, caplog):
    caplog.set_level(logging.INFO, logger="gridbridge")
    client = app.test_client()
    wrong = login(client, "sam", "sam-Wrong-password-42")
    unknown = login(client, "nobody", "sam-Wrong-password-42")
    empty = login(client, "sam", "")
    for resp in (wrong, unknown, empty):
        assert resp.status_code == 401
        assert auth.BAD_LOGIN in resp.get_data(as_text=True)
    assert _redirects_to_login(client.get("/"))
    assert "failed login for user 'sam'" in caplog.text and "failed login for user 'nobody'" in caplog.text
    assert "Wrong-password" not in caplog.text
    # an ID number typed as the user name is masked in the log
    login(client, "640202199001011234", "whatever-password")
    assert "640202199001011234" not in caplog.text and "640202********1234" in caplog.text
    assert login(client, "sam").status_code == 302


def test_ten_failures_lock_the_name_for_five_minutes(app, clock):
    store = app.extensions[EXTENSION]["users"]
    store.add_user("lou", password_for("lou"), "viewer")
    client = app.test_client()
    for _ in range(auth.MAX_FAILURES):
        assert auth.BAD_LOGIN in login(client, "lou", "lou-wrong-password").get_data(as_text=True)
    locked = login(client, "lou")  # the right password, but locked
    assert locked.status_code == 401 and auth.LOCKED in locked.get_data(as_text=True)
    assert auth.LOCKED in login(client, "LOU ").get_data(as_text=True)  # the same name, however typed
    clock.t += auth.LOCKOUT_SECONDS + 1
    assert login(client, "lou").status_code == 302


# --- sessions -----------------------------------------------------------------------------------------
def test_idle_session_expires(app, clock):
    client = app.test_client()
    login(client, "vic")
    idle = app.permanent_session_lifetime.total_seconds()
    assert idle == 30 * 60
    clock.t += idle - 60
    assert client.get("/").status_code == 200  # activity keeps it alive …
    clock.t += idle - 60
    assert client.get("/").status_code == 200
    clock.t += idle + 1  # … idleness ends it
    resp = client.get("/")
    assert _redirects_to_login(resp)
    assert auth.TIMED_OUT in client.get("/login").get_data(as_text=True)
    assert _redirects_to_login(client.get("/"))


def test_session_lifetime_is_configurable_and_real_time_expiry_works(tmp_path):
    app = make_app(tmp_path, session_minutes=1 / 60)  # one second
    add_users(app, ("ida", "viewer", []))
    client = app.test_client()
    login(client, "ida")
    assert client.get("/").status_code == 200
    time.sleep(1.2)
    assert _redirects_to_login(client.get("/"))


def test_sessions_end_after_the_absolute_maximum(app, clock):
    client = app.test_client()
    login(client, "vic")
    app.config["STEWARD_SESSION_MAX_SECONDS"] = 3600
    try:
        for _ in range(3):
            assert client.get("/").status_code == 200
            clock.t += 25 * 60
        assert _redirects_to_login(client.get("/"))
    finally:
        app.config["STEWARD_SESSION_MAX_SECONDS"] = 12 * 3600


def test_password_change_or_disabling_ends_existing_sessions(app):
    store = app.extensions[EXTENSION]["users"]
    store.add_user("pat", password_for("pat"), "steward")
    client = app.test_client()
    login(client, "pat")
    assert client.get("/").status_code == 200
    store.set_password("pat", "pat-a-brand-new-password")
    assert _redirects_to_login(client.get("/"))
    assert login(client, "pat").status_code == 401  # the old password no longer works
    assert login(client, "pat", "pat-a-brand-new-password").status_code == 302
    store.set_disabled("pat", True)
    assert _redirects_to_login(client.get("/"))
    assert login(client, "pat", "pat-a-brand-new-password").status_code == 401


def test_logout_ends_the_session(app):
    client = app.test_client()
    login(client, "vic")
    resp = post(client, "/logout")  # a viewer may log out (POST with a token)
    assert _redirects_to_login(resp)
    assert _redirects_to_login(client.get("/"))


def test_cookie_and_security_headers(app):
    client = app.test_client()
    resp = login(client, "vic")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    page = client.get("/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    text = page.get_data(as_text=True)
    assert "工作台" in text and "退出" in text and "http://" not in text and "https://" not in text


def test_premask_masks_each_value_by_its_field_in_place():
    from steward.page_helpers import premask
    recs = [{"id_number": "64020219900101123X", "phone": "+8613912345678", "name": "张三", "n": 3}, None,
            {"reason": "电话 13912345678 已核实"}]
    premask(recs)
    assert recs[0] == {"id_number": "640202********123X", "phone": "139****5678", "name": "张三", "n": 3}
    assert recs[2] == {"reason": "电话 139****5678 已核实"}
    only = [{"id_number": "64020219900101123X", "phone": "+8613912345678"}]
    premask(only, {"phone"})
    assert only == [{"id_number": "64020219900101123X", "phone": "139****5678"}]


def test_secret_key_is_made_once_and_owner_only(tmp_path):
    first = make_app(tmp_path)
    key_file = tmp_path / "wh" / "steward_secret"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert make_app(tmp_path).secret_key == first.secret_key == key_file.read_text().strip()


# --- CSRF ---------------------------------------------------------------------------------------------
def test_post_without_or_with_a_wrong_csrf_token_is_rejected(app):
    client = app.test_client()
    resp = client.post("/login", data={"username": "sam", "password": password_for("sam")})
    assert resp.status_code == 400 and "请求已失效" in resp.get_data(as_text=True)
    assert _redirects_to_login(client.get("/"))  # not logged in
    login(client, "sam")
    good = csrf_token(client)
    for token in ("", "not-a-token", good[:-2] + "xx"):
        assert post(client, "/decide-test", token=token).status_code == 400, token
    other = app.test_client()  # a valid token of another session does not count either
    login(other, "amy")
    assert post(client, "/decide-test", token=csrf_token(other)).status_code == 400
    assert post(client, "/decide-test", token=good).status_code == 200
    # the header form (for scripts) works too
    assert client.post("/decide-test", headers={"X-CSRFToken": good}).status_code == 200
    assert client.post("/decide-test", headers={"X-CSRFToken": "nope"}).status_code == 400


# --- roles and scopes ---------------------------------------------------------------------------------
def test_a_viewer_cannot_decide(app, caplog):
    caplog.set_level(logging.INFO, logger="gridbridge")
    viewer, steward = app.test_client(), app.test_client()
    login(viewer, "vic")
    login(steward, "sam")
    assert post(viewer, "/decide-test").status_code == 403
    assert post(viewer, "/unmarked-post").status_code == 403  # read-only even where a page forgot the decorator
    assert "refused POST /decide-test to user 'vic'" in caplog.text
    assert post(steward, "/decide-test").get_json() == {"decided_by": "sam"}
    assert post(steward, "/unmarked-post").status_code == 200
    assert viewer.get("/").status_code == 200  # but reads
    assert post(viewer, "/password", {"current": "x", "new": "y", "repeat": "z"}).status_code == 400  # own account


def test_only_an_admin_manages_users(app):
    clients = {}
    for name in ("amy", "sam", "vic"):
        clients[name] = app.test_client()
        login(clients[name], name)
    new = {"username": "neo", "role": "admin", "scopes": "", "password": password_for("neo"),
           "repeat": password_for("neo")}
    for name in ("sam", "vic"):
        assert clients[name].get("/users").status_code == 403
        assert post(clients[name], "/users", new).status_code == 403
        assert post(clients[name], "/users/vic/disabled", {"disabled": "1"}).status_code == 403
    store = app.extensions[EXTENSION]["users"]
    assert store.get("neo") is None
    assert "用户管理" not in clients["sam"].get("/").get_data(as_text=True)  # no link either
    page = clients["amy"].get("/users")
    assert page.status_code == 200 and "用户管理" in page.get_data(as_text=True)
    weak = dict(new, password="short", repeat="short")
    resp = post(clients["amy"], "/users", weak)
    assert resp.status_code == 400 and "至少需要 10 个字符" in resp.get_data(as_text=True)
    assert post(clients["amy"], "/users", dict(new, role="viewer", scopes="640105 640106")).status_code == 302
    neo = store.get("neo")
    assert neo.role == "viewer" and neo.scopes == ("640105", "640106")


def test_role_rules():
    """The order of roles (the decorator itself is exercised by the requests above: /decide-test, /users)."""
    with pytest.raises(ValueError):
        require_role("superuser")
    assert role_at_least("admin", "steward") and role_at_least("steward", "steward")
    assert not role_at_least("viewer", "steward") and not role_at_least("steward", "admin")
    assert not role_at_least("nobody", "viewer")


def test_scopes_reach_current_user_and_match_by_prefix(app):
    client = app.test_client()
    login(client, "sam")
    assert client.get("/whoami").get_json() == {"username": "sam", "role": "steward",
                                                 "scopes": ["640105007", "640105008"]}
    scopes = ["640105007", "640105008"]
    assert in_scope(scopes, "640105007001") and in_scope(scopes, None, "640105008")
    assert not in_scope(scopes, "640105009001", None) and in_scope([], "anything")
    assert not in_scope(["640105_"], "640105007001")        # no wildcards: a plain prefix


# --- users and passwords --------------------------------------------------------------------------------
def test_passwords_are_stored_as_argon2_hashes_only(tmp_path):
    store = UserStore.for_state_dir(tmp_path)
    store.add_user("hana", "hana-secret-passphrase", "steward", ["640105"])
    raw = sqlite3.connect(store.path).execute("SELECT password_hash FROM steward_user").fetchone()[0]
    assert raw.startswith("$argon2id$") and "hana-secret-passphrase" not in raw
    assert all(b"hana-secret-passphrase" not in p.read_bytes() for p in tmp_path.glob("state.sqlite*"))
    assert store.verify("hana", "hana-secret-passphrase").role == "steward"
    assert store.verify("HANA", "hana-secret-passphrase") is not None  # names are case-insensitive
    assert store.verify("hana", "hana-secret-passphrase ") is None
    assert (tmp_path / "state.sqlite").stat().st_mode & 0o777 == 0o600


def test_outdated_hashes_are_upgraded_at_login(tmp_path):
    from argon2 import PasswordHasher

    UserStore.for_state_dir(tmp_path, PasswordHasher(time_cost=1, memory_cost=8192)).add_user(
        "olga", "olga-old-hash-password", "viewer")
    store = UserStore.for_state_dir(tmp_path)
    read = lambda: sqlite3.connect(store.path).execute("SELECT password_hash FROM steward_user").fetchone()[0]
    assert "m=8192" in read()
    assert store.verify("olga", "olga-old-hash-password") is not None
    assert "m=65536" in read() and store.verify("olga", "olga-old-hash-password") is not None


@pytest.mark.parametrize("call, message", [
    (lambda s: s.add_user("tim", "short", "steward"), "at least 10 characters"),
    (lambda s: s.add_user("timothy123", "timothy123", "steward"), "differ from the user name"),
    (lambda s: s.add_user("tim", " " * 12, "steward"), "only spaces"),
    (lambda s: s.add_user("tim", "x" * 2000, "steward"), "longer than"),
    (lambda s: s.add_user("tim", "long-enough-pw", "root"), "unknown role"),
    (lambda s: s.add_user("tim", "long-enough-pw", "viewer", ["640105 007"]), "scope"),
    (lambda s: s.add_user("13912345678", "long-enough-pw", "viewer"), "phone number"),
    (lambda s: s.add_user("a b", "long-enough-pw", "viewer"), "user name"),
    (lambda s: s.set_password("ghost", "long-enough-pw"), "no such user"),
])
def test_user_rules_give_clear_errors(tmp_path, call, message):
    with pytest.raises(UserError, match=message):
        call(UserStore.for_state_dir(tmp_path))


# --- the command line ------------------------------------------------------------------------------------
def _cli(argv):
    p = argparse.ArgumentParser(prog="gridbridge")
    steward_cmd.add_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


def test_add_user_set_password_and_list_on_the_command_line(tmp_path, monkeypatch, capsys):
    from tests.steward.support import write_config

    cfg = str(write_config(tmp_path))
    store = lambda: UserStore.for_state_dir(tmp_path / "wh")
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-password-0123\n"))
    assert _cli(["steward", "add-user", "wang", "--role", "steward", "--scope", "640105007",
                 "--scope", "640105008", "--password-stdin", "--config", cfg]) == 0
    user = store().verify("wang", "cli-password-0123")
    assert user.role == "steward" and user.scopes == ("640105007", "640105008")
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-password-0123\n"))
    assert _cli(["steward", "--config", cfg, "add-user", "wang", "--role", "viewer", "--password-stdin"]) == 2
    assert "user exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("tooshort\n"))
    assert _cli(["steward", "add-user", "li", "--role", "viewer", "--password-stdin", "--config", cfg]) == 2
    assert "at least 10 characters" in capsys.readouterr().err and store().get("li") is None

    answers = iter(["typed-password-1", "typed-password-2"])  # the prompt: two different entries
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert _cli(["steward", "set-password", "wang", "--config", cfg]) == 2
    assert "differ" in capsys.readouterr().err
    answers = iter(["typed-password-1", "typed-password-1"])
    assert _cli(["steward", "set-password", "wang", "--config", cfg]) == 0
    assert store().verify("wang", "typed-password-1") and not store().verify("wang", "cli-password-0123")
    assert _cli(["steward", "set-password", "nobody", "--config", cfg]) == 2

    capsys.readouterr()
    assert _cli(["steward", "list-users", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "wang" in out and "steward" in out and "640105007" in out and "argon2" not in out
    assert _cli(["steward", "disable-user", "wang", "--config", cfg]) == 0
    assert store().verify("wang", "typed-password-1") is None
    assert _cli(["steward", "enable-user", "wang", "--config", cfg]) == 0
    assert store().verify("wang", "typed-password-1") is not None


def test_serve_binds_localhost_by_default_and_warns_otherwise(tmp_path, monkeypatch, capsys):
    from tests.steward.support import write_config

    import waitress
    served = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: served.append(kw))
    cfg = str(write_config(tmp_path))
    assert _cli(["steward", "--config", cfg]) == 0
    assert served[-1]["host"] == "127.0.0.1" and served[-1]["port"] == 8050
    err = capsys.readouterr().err
    assert "warning" not in err and "add-user" in err  # no users yet: the hint
    assert _cli(["steward", "serve", "--host", "0.0.0.0", "--port", "8051", "--config", cfg]) == 0
    assert served[-1]["host"] == "0.0.0.0" and served[-1]["port"] == 8051
    assert "warning: the console listens on 0.0.0.0" in capsys.readouterr().err
    assert steward_cmd.is_loopback("::1") and steward_cmd.is_loopback("localhost")
    assert not steward_cmd.is_loopback("192.168.1.5")


def test_pages_before_the_first_sync_say_so(app):
    client = app.test_client()
    login(client, "sam")
    for url in ("/conflicts", "/reviews", "/conflicts/x", "/reviews/x"):
        resp = client.get(url)
        assert resp.status_code == 503 and "还没有已发布的数据仓库" in resp.get_data(as_text=True), url
    assert client.get("/").status_code == 200            # the home page shows the notice instead

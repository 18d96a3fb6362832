"""`gridbridge steward`: serve the stewards' console, and manage its users.

    gridbridge steward [--config F] [--host 127.0.0.1] [--port 8050]     # = `gridbridge steward serve …`
    gridbridge steward add-user NAME --role admin|steward|viewer [--scope 640105007 …] [--password-stdin]
    gridbridge steward set-password NAME [--password-stdin]
    gridbridge steward list-users | disable-user NAME | enable-user NAME

Passwords come from a prompt (typed twice, not echoed) or, for scripts, from the first line of stdin
(`--password-stdin`); never from the command line, where `ps` and shell history would keep them.
The console binds 127.0.0.1 unless told otherwise, and warns when it listens on other interfaces.
Heavy imports (flask, waitress) stay inside the commands.
"""
from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import sys

from pipelines.constants import fail

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8050


def add_parser(sub) -> None:
    s = sub.add_parser("steward", help="the data stewards' review console (web), and its users",
                       description="Serve the stewards' console (default) or manage its users.")
    s.add_argument("--config", default="gridbridge.yaml")
    _serve_options(s, defaults=True)
    s.set_defaults(func=cmd_serve)
    # subcommands: options repeated with SUPPRESS defaults, so `steward --config F add-user …` keeps its --config
    subs = s.add_subparsers(dest="steward_command", metavar="{serve,add-user,set-password,list-users,"
                                                               "disable-user,enable-user}")
    serve = subs.add_parser("serve", help="serve the console (the default)")
    _config(serve)
    _serve_options(serve, defaults=False)
    serve.set_defaults(func=cmd_serve)

    add = subs.add_parser("add-user", help="add a console user")
    _config(add)
    add.add_argument("username", metavar="NAME")
    add.add_argument("--role", required=True, choices=["admin", "steward", "viewer"],
                     help="viewer: reads; steward: also decides; admin: also manages users")
    add.add_argument("--scope", dest="scopes", action="extend", nargs="+", default=[], metavar="PREFIX",
                     help="grid_code/community prefixes the user may work on (repeatable; none = everything)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=cmd_add_user)

    pw = subs.add_parser("set-password", help="set a user's password (ends the user's open sessions)")
    _config(pw)
    pw.add_argument("username", metavar="NAME")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    pw.set_defaults(func=cmd_set_password)

    ls = subs.add_parser("list-users", help="list the console users")
    _config(ls)
    ls.set_defaults(func=cmd_list_users)

    for name, disabled in (("disable-user", True), ("enable-user", False)):
        d = subs.add_parser(name, help=f"{'disable' if disabled else 'enable'} a user "
                                       f"({'ends its sessions; ' if disabled else ''}decisions stay)")
        _config(d)
        d.add_argument("username", metavar="NAME")
        d.set_defaults(func=cmd_set_disabled, disabled=disabled)


def _config(p) -> None:
    p.add_argument("--config", default=argparse.SUPPRESS)


def _serve_options(p, defaults: bool) -> None:
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p.add_argument("--host", default=d(DEFAULT_HOST), help=f"interface to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=d(DEFAULT_PORT), help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--session-minutes", type=float, default=d(None),
                   help="idle minutes before a login expires (default 30, or GRIDBRIDGE_STEWARD_SESSION_MINUTES)")
    p.add_argument("--threads", type=int, default=d(8), help="waitress worker threads (default 8)")


def _store(args):
    from schemas.config import load
    from steward.users import UserStore

    return UserStore.for_state_dir(load(args.config).state_dir)


def read_password(args, stdin=None, prompt=None) -> str:
    """The new password: stdin's first line with --password-stdin, else typed twice at a prompt.
    Raises UserError when the two differ or nothing was given."""
    from steward.users import UserError

    if getattr(args, "password_stdin", False):
        line = (stdin or sys.stdin).readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise UserError("no password on stdin")
        return password
    prompt = prompt or getpass.getpass
    first = prompt(f"password for {args.username}: ")
    if prompt("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def cmd_add_user(args) -> int:
    from steward.users import UserError, check_password, check_role, check_scopes, check_username

    store = _store(args)
    try:
        name = check_username(args.username)  # refuse a bad name/role/scope before asking for a password
        check_role(args.role), check_scopes(args.scopes)
        if store.get(name) is not None:
            raise UserError(f"用户 {name!r} 已存在 (user exists; use set-password)")
        password = read_password(args)
        check_password(password, name)
        user = store.add_user(name, password, args.role, args.scopes)
    except UserError as e:
        return fail(str(e))
    scope = ", ".join(user.scopes) if user.scopes else "all grids and communities"
    print(f"added user {user.username} ({user.role}; scope: {scope})")
    return 0


def cmd_set_password(args) -> int:
    from steward.users import UserError

    store = _store(args)
    try:
        if store.get(args.username) is None:
            raise UserError(f"没有用户 {args.username!r} (no such user)")
        user = store.set_password(args.username, read_password(args))
    except UserError as e:
        return fail(str(e))
    print(f"password set for {user.username}; their open sessions have ended")
    return 0


def cmd_list_users(args) -> int:
    users = _store(args).list()
    if not users:
        print("no users yet: gridbridge steward add-user NAME --role admin")
        return 0
    print(f"{'user':<20} {'role':<8} {'status':<9} {'created':<20} scope")
    for u in users:
        print(f"{u.username:<20} {u.role:<8} {'disabled' if u.disabled else 'active':<9} {u.created_at:<20} "
              f"{', '.join(u.scopes) or 'all'}")
    return 0


def cmd_set_disabled(args) -> int:
    from steward.users import UserError

    try:
        user = _store(args).set_disabled(args.username, args.disabled)
    except UserError as e:
        return fail(str(e))
    print(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args) -> int:
    import waitress

    from steward.app import create_app

    app = create_app(args.config, session_minutes=args.session_minutes)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("gridbridge").setLevel(logging.INFO)
    if not is_loopback(args.host):
        print(f"warning: the console listens on {args.host}, reachable from other machines; it shows personal data "
              f"over plain HTTP: put it behind HTTPS (set GRIDBRIDGE_STEWARD_SECURE_COOKIES=1) or bind 127.0.0.1",
              file=sys.stderr)
    from steward.context import EXTENSION
    if not app.extensions[EXTENSION]["users"].list():
        print("no console users yet: gridbridge steward add-user NAME --role admin", file=sys.stderr)
    from steward import queues
    queues.keep_warm(app.extensions[EXTENSION]["config"])
    url_host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"stewards' console on http://{url_host}:{args.port}/ (Ctrl+C stops it)", flush=True)
    try:
        waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="gridbridge")
    except KeyboardInterrupt:
        print("stopped")
    return 0

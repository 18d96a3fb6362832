"""Steward accounts: table `steward_user` in `<state dir>/state.sqlite` (beside the run log and the decisions).

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, its default RFC 9106 parameters); a hash made
with older parameters is replaced at the next successful login. Plain passwords are never stored or logged.

Roles, weakest first: `viewer` (reads the queues), `steward` (also decides), `admin` (also manages users).
Scopes: grid_code / community prefixes a user may work on (`640105007` = every grid of that street); an empty
list means everything. `in_scope` checks one record (decisions, imports); the queues filter whole frames with the
same rule (`queues.scope_mask`).

`session_epoch` goes up whenever a password changes or a user is disabled: a login cookie carries the epoch it was
issued under (`auth.py`), so such a change ends every session of that user at its next request.
"""
from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("viewer", "steward", "admin")               # weakest first: a role includes the ones before it
ROLE_LABELS = {"viewer": "只读用户", "steward": "数据管理员", "admin": "管理员"}
MIN_PASSWORD = 10
MAX_PASSWORD = 1024                                  # hashing a megabyte per attempt would be a cheap DoS
_USERNAME = re.compile(r"^[\w.@-]{2,64}$")
_SCOPE = re.compile(r"^[\w.-]{1,64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steward_user (
    username TEXT PRIMARY KEY COLLATE NOCASE, password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'steward', 'admin')),
    scopes TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    password_changed_at TEXT, session_epoch INTEGER NOT NULL DEFAULT 0);
"""
_COLUMNS = "username, role, scopes, created_at, disabled, password_changed_at, session_epoch"


class UserError(ValueError):
    """A refused user operation (weak password, unknown role, duplicate user …): one line, Chinese + English."""


@dataclass(frozen=True)
class StewardUser:
    username: str
    role: str
    scopes: tuple[str, ...]
    created_at: str
    disabled: bool
    password_changed_at: str | None
    session_epoch: int

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


# --- pure rules ---------------------------------------------------------------------------------
def role_at_least(role: str, needed: str) -> bool:
    if needed not in ROLES:
        raise ValueError(f"unknown role {needed!r}")
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def in_scope(scopes, *values: str | None) -> bool:
    """True when the user may see a record whose grid_code/community are `values`: no scopes (everything), or any
    value starts with any scope prefix."""
    if not scopes:
        return True
    return any(v is not None and str(v).startswith(s) for v in values for s in scopes)


def check_username(username: str) -> str:
    from schemas.normalise.masking import mask_text

    name = (username or "").strip()
    if not _USERNAME.match(name):
        raise UserError("用户名须为 2–64 个字母、数字、汉字或 . _ - @ (user name: 2-64 letters, digits, . _ - @)")
    if mask_text(name) != name:  # user names are logged and kept in decided_by: never an ID number or a phone
        raise UserError("用户名不能是身份证号或电话号码 (a user name must not be an ID number or a phone number)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"未知角色 {role!r}，可选 {' / '.join(ROLES)} (unknown role)")
    return role


def check_scopes(scopes) -> list[str]:
    out: list[str] = []
    for s in scopes or ():
        s = str(s).strip()
        if not _SCOPE.match(s):
            raise UserError(f"范围 {s!r} 无效：应为网格编码或社区的前缀 (scope must be a grid_code/community prefix)")
        if s not in out:
            out.append(s)
    return out


def check_password(password: str, username: str = "") -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少需要 {MIN_PASSWORD} 个字符 (password must be at least {MIN_PASSWORD} characters)")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"密码不能超过 {MAX_PASSWORD} 个字符 (password longer than {MAX_PASSWORD} characters)")
    if not password.strip():
        raise UserError("密码不能全是空白 (password must not be only spaces)")
    if username and password.strip().casefold() == username.strip().casefold():
        raise UserError("密码不能与用户名相同 (password must differ from the user name)")
    return password


# --- the table ----------------------------------------------------------------------------------
class UserStore:
    """`steward_user` in one SQLite file (WAL; the file is State's owner-only `state.sqlite`)."""

    def __init__(self, db_path: Path, hasher: PasswordHasher | None = None):
        self.path = Path(db_path)
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @classmethod
    def for_state_dir(cls, state_dir: Path, hasher: PasswordHasher | None = None) -> "UserStore":
        from warehouse.state import State

        return cls(State(state_dir).path, hasher)  # State creates the file owner-only (0600) first

    def _connect(self):
        from warehouse.state import connect

        return connect(self.path)                # one transaction, closed at the end of the block

    @staticmethod
    def _user(row) -> StewardUser:
        username, role, scopes, created_at, disabled, changed_at, epoch = row
        return StewardUser(username, role, tuple(json.loads(scopes or "[]")), created_at, bool(disabled),
                           changed_at, int(epoch))

    def get(self, username: str) -> StewardUser | None:
        with self._connect() as con:
            row = con.execute(f"SELECT {_COLUMNS} FROM steward_user WHERE username = ?",
                              ((username or "").strip(),)).fetchone()
        return self._user(row) if row else None

    def list(self) -> list[StewardUser]:
        with self._connect() as con:
            rows = con.execute(f"SELECT {_COLUMNS} FROM steward_user ORDER BY username").fetchall()
        return [self._user(r) for r in rows]

    def _require(self, username: str) -> StewardUser:
        user = self.get(username)
        if user is None:
            raise UserError(f"没有用户 {username!r} (no such user)")
        return user

    def add_user(self, username: str, password: str, role: str, scopes=()) -> StewardUser:
        from warehouse.state import now

        name = check_username(username)
        role, scopes = check_role(role), check_scopes(scopes)
        check_password(password, name)
        hashed = self.hasher.hash(password)
        try:
            with self._connect() as con:
                con.execute("INSERT INTO steward_user (username, password_hash, role, scopes, created_at, "
                            "password_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (name, hashed, role, json.dumps(scopes, ensure_ascii=False), now(), now()))
        except sqlite3.IntegrityError:
            raise UserError(f"用户 {name!r} 已存在 (user exists)") from None
        return self._require(name)

    def set_password(self, username: str, password: str) -> StewardUser:
        from warehouse.state import now

        user = self._require(username)
        check_password(password, user.username)
        with self._connect() as con:
            con.execute("UPDATE steward_user SET password_hash = ?, password_changed_at = ?, "
                        "session_epoch = session_epoch + 1 WHERE username = ?",
                        (self.hasher.hash(password), now(), user.username))
        return self._require(user.username)

    def update(self, username: str, *, role: str | None = None, scopes=None) -> StewardUser:
        user = self._require(username)
        role = check_role(role) if role is not None else user.role
        scopes = check_scopes(scopes) if scopes is not None else list(user.scopes)
        with self._connect() as con:
            con.execute("UPDATE steward_user SET role = ?, scopes = ? WHERE username = ?",
                        (role, json.dumps(scopes, ensure_ascii=False), user.username))
        return self._require(user.username)

    def set_disabled(self, username: str, disabled: bool) -> StewardUser:
        user = self._require(username)
        with self._connect() as con:
            con.execute("UPDATE steward_user SET disabled = ?, session_epoch = session_epoch + 1 WHERE username = ?",
                        (int(bool(disabled)), user.username))
        return self._require(user.username)

    def verify(self, username: str, password: str) -> StewardUser | None:
        """The user when the password is right and the account enabled, else None. An unknown name costs one hash
        verification as well, so the answer's timing does not tell which names exist."""
        with self._connect() as con:
            row = con.execute(f"SELECT password_hash, {_COLUMNS} FROM steward_user WHERE username = ?",
                              ((username or "").strip(),)).fetchone()
        if password is None or len(password) > MAX_PASSWORD:
            return None
        if row is None:
            with contextlib.suppress(VerificationError, InvalidHashError):
                self.hasher.verify(self._dummy(), password)
            return None
        stored, user = row[0], self._user(row[1:])
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user.disabled:
            return None
        if self.hasher.check_needs_rehash(stored):
            with self._connect() as con:
                con.execute("UPDATE steward_user SET password_hash = ? WHERE username = ? AND password_hash = ?",
                            (self.hasher.hash(password), user.username, stored))
        return user

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not-a-real-password: timing equaliser")
        return self._dummy_hash

"""User management (admin only): list users, add one, disable/enable, set a new password.
The command line does the same: `gridbridge steward add-user|set-password|list-users|disable-user|enable-user`."""
from __future__ import annotations

import logging
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from steward.auth import require_role
from steward.context import add_nav, user_store
from steward.users import MAX_PASSWORD, ROLE_LABELS, ROLES, UserError

log = logging.getLogger("gridbridge.steward")
bp = Blueprint("admin", __name__)
bp.record_once(lambda s: add_nav(s.app, "admin.users", "用户管理", "admin"))


class AddUserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    role = SelectField("角色", choices=[(r, ROLE_LABELS[r]) for r in reversed(ROLES)], default="steward")
    scopes = StringField("范围（网格/社区编码前缀，空格分隔，留空 = 全部）", validators=[Length(max=2000)])
    password = PasswordField("初始密码（至少 10 个字符）", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    repeat = PasswordField("再次输入密码", validators=[DataRequired(), Length(max=MAX_PASSWORD)])


def split_scopes(text: str | None) -> list[str]:
    return [s for s in re.split(r"[\s,，;；]+", text or "") if s]


def _page(form, error=None, status=200):
    return render_template("users.html", users=user_store().list(), form=form, error=error,
                           role_labels=ROLE_LABELS), status


@bp.route("/users", methods=["GET"])
@require_role("admin")
def users():
    return _page(AddUserForm())


@bp.route("/users", methods=["POST"])
@require_role("admin")
def add_user():
    form = AddUserForm()
    if not form.validate_on_submit():
        return _page(form, "请填写用户名、角色和密码", 400)
    if form.password.data != form.repeat.data:
        return _page(form, "两次输入的密码不一致", 400)
    try:
        record = user_store().add_user(form.username.data, form.password.data, form.role.data,
                                       split_scopes(form.scopes.data))
    except UserError as e:
        return _page(form, str(e), 400)
    log.info("user %r added (%s) by %r", record.username, record.role, current_user.username)
    flash(f"已添加用户 {record.username}（{record.role_label}）", "info")
    return redirect(url_for("admin.users"))


@bp.route("/users/<username>/disabled", methods=["POST"])
@require_role("admin")
def set_disabled(username: str):
    disabled = request.form.get("disabled") == "1"
    if disabled and username.casefold() == current_user.username.casefold():
        flash("不能停用自己的账号", "error")
        return redirect(url_for("admin.users"))
    try:
        record = user_store().set_disabled(username, disabled)
    except UserError as e:
        flash(str(e), "error")
        return redirect(url_for("admin.users"))
    log.info("user %r %s by %r", record.username, "disabled" if disabled else "enabled", current_user.username)
    flash(f"用户 {record.username} 已{'停用' if disabled else '启用'}", "info")
    return redirect(url_for("admin.users"))


@bp.route("/users/<username>/password", methods=["POST"])
@require_role("admin")
def set_password(username: str):
    password = request.form.get("password", "")
    try:
        if password != request.form.get("repeat", ""):
            raise UserError("两次输入的密码不一致")
        record = user_store().set_password(username, password)
    except UserError as e:
        flash(str(e), "error")
        return redirect(url_for("admin.users"))
    log.info("password of user %r set by %r", record.username, current_user.username)
    flash(f"已为 {record.username} 设置新密码（其已登录的会话已结束）", "info")
    return redirect(url_for("admin.users"))

"""The data stewards' console (`gridbridge steward`): a Flask app over the published warehouse and the state store.

- `users.py`   — steward accounts in `<state dir>/state.sqlite` (`steward_user`): argon2 hashes, roles, scopes.
- `auth.py`    — login/logout/password pages, Flask-Login wiring, the login throttle and `require_role`.
- `admin.py`   — user management pages (admin only).
- `context.py` — what a page needs inside a request: `get_config()`, `get_state()`, `user_store()`, `add_nav()`.
- `home.py`    — the counts on the home page (`home_counts(config, user)`).
- `app.py`     — `create_app(config_path)`: sessions, CSRF, login-required-everywhere, security headers, pages.
"""

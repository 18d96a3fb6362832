"""The data stewards' console (`gridbridge steward`): a Flask app over the published warehouse and the state store.

- `users.py`   — steward accounts in `<state dir>/state.sqlite` (`steward_user`): argon2 hashes, roles, scopes.
- `auth.py`    — login/logout/password pages, Flask-Login wiring, the login throttle and `require_role`.
- `admin.py`   — user management pages (admin only).
- `context.py` — what a page needs inside a request: `get_config()`, `user_store()`, `add_nav()`.
- `home.py`    — the counts on the home page (`home_counts(config, user)`, from `queues.counts`).
- `app.py`     — `create_app(config_path)`: sessions, CSRF, login-required-everywhere, security headers, pages.

The stewards' work, shared by the console and `gridbridge conflicts` (pipelines/conflicts_cmd.py):
- `store.py`   — the published warehouse (read-only, per call) and `state(config)`: the one `State` (decisions).
- `queue_sql.py`, `queues.py` — the conflict and review queues: filters, scopes, order, age, counts.
- `detail.py`  — one conflict or pair side by side (golden record, both source records, households).
- `decisions_model.py` — the decision kinds, targets and undo rules (also used by the sync).
- `values.py`  — a corrected value through the standardise stage's normalisers.
- `decide.py`  — recording decisions (single, bulk, undo): every write goes through `decide.record`.
- `workbook.py` — the Excel export / import.
"""

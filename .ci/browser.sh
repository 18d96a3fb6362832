#!/usr/bin/env bash
# Chromium for the run-report browser tests (tests/test_report.py drives /usr/bin/chromium with Playwright;
# Playwright's own browser download is never used).
#
# Idempotent; for Debian/Ubuntu with apt, run as root (CI runs it as root via `make test`). When
# /usr/bin/chromium already runs, nothing is done, so a non-root `make test` works once `sudo make browser`
# (or this script as root) has run.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
log() { echo "browser: $*"; }
die() { echo "browser: $*" >&2; exit 1; }

if [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; then
  log "$("$CHROMIUM" --version 2>/dev/null | head -1) at $CHROMIUM"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root to install chromium: run \`sudo make browser\` (or .ci/browser.sh as root)"
command -v apt-get >/dev/null || die "needs apt-get (Debian/Ubuntu); elsewhere install Chromium at $CHROMIUM yourself"

log "installing chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is missing"
"$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1 || die "$CHROMIUM does not start"
log "$("$CHROMIUM" --version 2>/dev/null | head -1) installed at $CHROMIUM"

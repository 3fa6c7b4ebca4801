#!/usr/bin/env bash
# The bridge's transport designs side by side, in alternating rounds (bench/transports/main.go).
# Usage: bench/transports.sh [rounds] [time per design and load]   (default 3 rounds of 3s). Needs
# the venv (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
export SNAKEPOOL_PYTHON="${SNAKEPOOL_PYTHON:-$PWD/.venv/bin/python}"
go run ./bench/transports -rounds "${1:-3}" -time "${2:-3s}"

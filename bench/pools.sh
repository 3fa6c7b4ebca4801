#!/usr/bin/env bash
# Round-trip latency (p50, p99) and throughput of a no-op tool through each pool profile.
# Usage: bench/pools.sh [benchtime]   (default 5s). Needs the venv (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
export SNAKEPOOL_PYTHON="${SNAKEPOOL_PYTHON:-$PWD/.venv/bin/python}"
go test -run '^$' -bench 'BenchmarkNoop' -benchtime "${1:-5s}" -count 1 ./pools/

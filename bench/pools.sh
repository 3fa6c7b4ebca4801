#!/usr/bin/env bash
# Round-trip latency (p50, p99) and throughput of a no-op tool through each pool profile, and the
# cost per item of a batch of no-op items (BenchmarkBatch).
# Usage: bench/pools.sh [benchtime]   (default 5s). Needs the venv (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
export SNAKEPOOL_PYTHON="${SNAKEPOOL_PYTHON:-$PWD/.venv/bin/python}"
go test -run '^$' -bench 'BenchmarkNoop|BenchmarkBatch' -benchtime "${1:-5s}" -count 1 ./pools/

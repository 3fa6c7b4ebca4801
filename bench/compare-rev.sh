#!/usr/bin/env bash
# BenchmarkNoop of the process profile at an older revision and in this work tree, in alternating
# rounds (each round: REV with SNAKEPOOL_SERVER unset, REV with SNAKEPOOL_SERVER=grpcio, this tree).
# Usage: bench/compare-rev.sh REV [rounds] [benchtime]   (default 3 rounds of 3s). Needs the venv.
# REV's Python package is put first on the workers' PYTHONPATH (its pools/helpers_test.go is
# patched for that in a temporary copy), so each side runs its own Go and Python code.
# BENCH (default 'BenchmarkNoop/process') picks the benchmarks; REV_SERVERS (default 'default
# grpcio') the SNAKEPOOL_SERVER values REV runs with ('default': unset; the variable means nothing
# to revisions without the old servers, so give REV_SERVERS=default for those).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/compare-rev.sh REV [rounds] [benchtime]}
rounds=${2:-3}
benchtime=${3:-3s}
pattern=${BENCH:-BenchmarkNoop/process}
read -r -a servers <<<"${REV_SERVERS:-default grpcio}"
export SNAKEPOOL_PYTHON="${SNAKEPOOL_PYTHON:-$PWD/.venv/bin/python}"
old=$(mktemp -d /tmp/sp-rev-XXXXXX)
trap 'rm -rf "$old"' EXIT
git archive "$rev" | tar -x -C "$old"
sed -i "s#\"PYTHONPATH\": testdataDir(t)}#\"PYTHONPATH\": testdataDir(t) + \":$old/python/src\"}#" "$old/pools/helpers_test.go"
grep -q "$old/python/src" "$old/pools/helpers_test.go" || { echo "cannot point $rev's pool tests at its Python package" >&2; exit 1; }
# bench DIR SERVER: BenchmarkNoop of the tree in DIR, with SNAKEPOOL_SERVER=SERVER (empty: default).
bench() {
  (cd "$1" && SNAKEPOOL_SERVER="$2" go test -run '^$' -bench "$pattern" -benchtime "$benchtime" -count 1 ./pools/) |
    grep '^Benchmark' || { echo "$pattern failed in $1" >&2; return 1; }
}
for r in $(seq "$rounds"); do
  echo "== round $r: $(uptime)"
  for server in "${servers[@]}"; do
    if [ "$server" = default ]; then
      echo "-- $rev (default server)" && bench "$old" ""
    else
      echo "-- $rev (SNAKEPOOL_SERVER=$server)" && bench "$old" "$server"
    fi
  done
  echo "-- this tree" && bench . ""
done

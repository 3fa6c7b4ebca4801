#!/usr/bin/env bash
# Startup of 1, 4 and 8 workers and the idle resident memory of each (the bench driver's pools
# command: pools.Start until every worker is ready, then VmRSS and PSS after 0.5 s idle), per
# profile, at an older revision and in this work tree, in alternating rounds (which goes first
# alternates too). Prints the median [min-max] of each.
# Usage: bench/startup-rev.sh REV [rounds]   (default 5 rounds). Needs the venv (make deps).
# Each side runs its own Go code (a bench driver built from it) and its own Python package (first
# on PYTHONPATH), with this tree's bench adapter (bench/workers).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/startup-rev.sh REV [rounds]}
rounds=${2:-5}
py="${SNAKEPOOL_PYTHON:-$PWD/.venv/bin/python}"
tmp=$(mktemp -d /tmp/sp-startup-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/rev" "$tmp/out"
git archive "$rev" | tar -x -C "$tmp/rev"
(cd "$tmp/rev" && go build -o "$tmp/driver-rev" ./bench/driver)
go build -o "$tmp/driver-here" ./bench/driver
# run NAME ROUND: one pools run of side NAME (rev or here).
run() {
  local src="$PWD/python/src"
  [ "$1" = rev ] && src="$tmp/rev/python/src"
  PYTHONPATH="$src" "$tmp/driver-$1" pools --python "$py" --dir "$PWD/bench/workers" \
    --adapter bench_adapter:BenchAdapter --rounds 1 --startup 1,4,8 --payload-sizes "" >"$tmp/out/$1-$2.json"
}
for r in $(seq "$rounds"); do
  echo "== round $r: $(uptime)" >&2
  if [ $((r % 2)) = 1 ]; then run rev "$r"; run here "$r"; else run here "$r"; run rev "$r"; fi
done
"$py" - "$tmp/out" "$rev" <<'PY'
import json, pathlib, statistics, sys
from collections import defaultdict
out, rev = pathlib.Path(sys.argv[1]), sys.argv[2]
secs, rss, pss = defaultdict(list), defaultdict(list), defaultdict(list)
for f in sorted(out.glob("*.json")):
    side = rev if f.name.startswith("rev-") else "this tree"
    for s in json.loads(f.read_text())["startup"]:
        secs[(side, s["profile"], s["workers"])].append(s["seconds"])
        rss[(side, s["profile"])] += [b / 2**20 for b in s["rss_bytes"]]
        pss[(side, s["profile"])] += [b / 2**20 for b in s["pss_bytes"]]
def m(v, f):
    return f"{f % statistics.median(v)} [{f % min(v)}-{f % max(v)}]"
for (side, profile, n), v in sorted(secs.items()):
    print(f"{side:>10}  {profile:7}  {n} workers ready: {m(v, '%.3f')} s")
for (side, profile), v in sorted(rss.items()):
    print(f"{side:>10}  {profile:7}  idle VmRSS per worker: {m(v, '%.1f')} MiB; PSS {m(pss[(side, profile)], '%.1f')} MiB")
PY

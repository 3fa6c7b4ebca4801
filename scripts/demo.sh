#!/usr/bin/env bash
# The snakepool demo: starts a Temporal dev server (Web UI included) and a snakepool worker with
# examples/ml.yaml, runs the hyperparameter sweep examples/pipelines/sweep.json through the starter
# (train six scikit-learn classifiers on the bundled digits data with a checkpoint heartbeat per
# epoch, evaluate them, pick the best), prints the result tables and the Web UI link, and stops
# everything it started, whatever happens (Ctrl-C included). docs/ml-demo.md walks through it.
#
# Run it with `make demo`, which first builds what it needs (`make deps build`): bin/temporal,
# .venv (the Python package), bin/snakepool-worker and bin/snakepool-starter.
#
# Environment:
#   TEMPORAL_PORT   frontend gRPC port of the dev server (default 7233)
#   UI_PORT         Web UI port (default 8233)
#   CONFIG          the worker config (default examples/ml.yaml)
#   PIPELINE        the pipeline to run (default examples/pipelines/sweep.json)
#   KEEP_RUNNING=1  keep the server and worker running after the pipeline, to explore the Web UI,
#                   until Ctrl-C
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${UI_PORT:-8233}"
PIPELINE="${PIPELINE:-examples/pipelines/sweep.json}"
CONFIG="${CONFIG:-examples/ml.yaml}"
ADDRESS="127.0.0.1:${TEMPORAL_PORT}"
UI_URL="http://localhost:${UI_PORT}"
START_TIMEOUT=60   # seconds, for the dev server and for the worker

if [[ -t 2 ]]; then BOLD=$'\033[1m' RESET=$'\033[0m'; else BOLD="" RESET=""; fi
say() { printf '%s>> %s%s\n' "$BOLD" "$*" "$RESET" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

for f in bin/temporal bin/snakepool-worker bin/snakepool-starter .venv/bin/python; do
    [[ -x "$f" ]] || die "$f is missing; run \`make demo\` (or \`make deps build\` first)"
done
[[ -f "$PIPELINE" ]] || die "pipeline file $PIPELINE not found"
[[ -f "$CONFIG" ]] || die "config file $CONFIG not found"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$TEMPORAL_PORT" "$UI_PORT"; do
    if port_busy "$port"; then
        die "port $port is already in use (another Temporal server?); stop it, or set TEMPORAL_PORT / UI_PORT"
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/snakepool-demo.XXXXXX")"
SERVER_LOG="$WORK/temporal.log"
WORKER_LOG="$WORK/worker.log"
SERVER_PID=""
WORKER_PID=""
STAGE=server   # server, worker, pipeline: what the demo is doing

# stop PID SIGNAL SECONDS: send SIGNAL, wait up to SECONDS for the process to exit, then SIGKILL.
stop() {
    local pid="$1" sig="$2" secs="$3" name="$4"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + secs))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name did not stop within ${secs}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    # The worker first (SIGTERM: it stops its Temporal workers, then its Python processes), then the
    # dev server (SIGINT: it does not stop promptly on SIGTERM).
    if [[ -n "$WORKER_PID" ]]; then say "stopping the worker"; fi
    stop "$WORKER_PID" TERM 30 "the worker"
    if [[ -n "$SERVER_PID" ]]; then say "stopping the Temporal dev server"; fi
    stop "$SERVER_PID" INT 15 "the Temporal dev server"
    if ((status == 130 || status == 143)); then  # Ctrl-C (SIGINT) or SIGTERM: a requested stop
        printf 'demo: stopped\n' >&2
        rm -rf "$WORK"
    elif ((status != 0)); then
        # The log of the stage that failed (a failed pipeline was explained by the starter).
        local log=""
        [[ "$STAGE" == server ]] && log="$SERVER_LOG"
        [[ "$STAGE" == worker ]] && log="$WORKER_LOG"
        if [[ -n "$log" && -s "$log" ]]; then
            printf '\n--- last lines of %s ---\n' "$log" >&2
            tail -n 30 "$log" >&2
        fi
        printf '\ndemo: failed (exit %d); the logs are kept in %s\n' "$status" "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS PID DESCRIPTION COMMAND...: run COMMAND until it succeeds, while PID lives.
wait_for() {
    local secs="$1" pid="$2" what="$3"
    shift 3
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "$what exited during its start"
        ((SECONDS < deadline)) || die "$what was not ready within ${secs}s"
        sleep 0.2
    done
}

say "starting the Temporal dev server on $ADDRESS (Web UI on $UI_URL; log: $SERVER_LOG)"
# setsid: the demo's own process group gets Ctrl-C; the trap stops the children in order.
setsid bin/temporal server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$UI_PORT" \
    --log-level warn >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
wait_for "$START_TIMEOUT" "$SERVER_PID" "the Temporal dev server" \
    bin/temporal operator cluster health --address "$ADDRESS"

STAGE=worker
say "starting the worker with $CONFIG (log: $WORKER_LOG)"
setsid bin/snakepool-worker --config "$CONFIG" --temporal-address "$ADDRESS" >"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
wait_for "$START_TIMEOUT" "$WORKER_PID" "the worker" grep -q "snakepool worker ready" "$WORKER_LOG"
# One line per pool: its task queue and how many activities it runs at once.
sed -nE 's/.*msg="Pool serving" pool=([^ ]+) task_queue=([^ ]+) capacity=([0-9]+).*/   pool \1: task queue \2, capacity \3/p' \
    "$WORKER_LOG" >&2

STAGE=pipeline
say "running $PIPELINE (the Web UI link below shows the run live)"
bin/snakepool-starter --pipeline "$PIPELINE" --address "$ADDRESS" --ui "$UI_URL"

if [[ "${KEEP_RUNNING:-0}" == 1 ]]; then
    say "the dev server and the worker keep running: open $UI_URL; press Ctrl-C to stop them"
    while kill -0 "$SERVER_PID" 2>/dev/null && kill -0 "$WORKER_PID" 2>/dev/null; do sleep 1; done
    die "the dev server or the worker stopped on its own"
fi
if [[ "${KEEP_RUNNING:-0}" != 1 ]]; then
    say "done; everything started is being stopped (KEEP_RUNNING=1 keeps the Web UI up to explore the run)"
fi

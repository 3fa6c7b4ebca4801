"""The command line of protocol 2: it knows none of the flags added since, and exits 2 on them."""

import argparse

p = argparse.ArgumentParser(prog="python -m snakepool.server")
for flag in ("--adapter", "--socket", "--handshake-fd", "--calls-fd", "--mode", "--max-workers", "--worker-id",
             "--log-fd", "--log-level", "--shutdown-grace"):
    p.add_argument(flag)
p.add_argument("--thread-safety-check", action="store_true")
p.parse_args()
raise SystemExit("not reached in the test: a flag of protocol 3 is not known here")

// Package chaos is snakepool's chaos suite. It has no code of its own: the suite is its tests,
// which build the real binaries, run them against a real Temporal dev server, inject faults
// (SIGKILL of Python workers and of the Go worker, a second worker killed, tools that ignore
// cancellation, leak memory, segfault or start children, SIGTERM to every process of the worker, a
// restart of the Temporal server) and print one row per scenario: submitted, completed, failed
// with a reason, lost, wrong, orphans and the time to recover.
//
//	make chaos                 # every scenario in full (SNAKEPOOL_CHAOS=full), 4 to 5 minutes
//	go test ./chaos            # the reduced run that `make test` includes
//
// SNAKEPOOL_CHAOS_ONLY=python-kill,poison runs only the named scenarios. docs/reliability.md
// ("Chaos") says what each scenario does and checks, and lists the figures of a full run.
package chaos

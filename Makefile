# snakepool: every target installs what it needs, idempotently, into ignored folders (bin/, .venv/).
# Tools come from the Go module proxy and PyPI only.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
BIN         := $(ROOT)/bin
VENV        := $(ROOT)/.venv
PY          := $(VENV)/bin/python
BENCH_VENV  := $(ROOT)/.venv-bench
BENCH_PY    := $(BENCH_VENV)/bin/python
SYSTEM_PY   ?= python3
TEMPORAL    := $(BIN)/temporal
# A second venv with the lowest grpcio and protobuf that python/pyproject.toml supports.
VENV_MIN    := $(ROOT)/.venv-min
PY_MIN      := $(VENV_MIN)/bin/python
GRPCIO_MIN   := 1.85.1
PROTOBUF_MIN := 7.35.1

TEMPORAL_CLI_VERSION      := v1.5.1
PROTOC_GEN_GO_VERSION     := v1.36.12

# Used by the Go tests to find the interpreter and the Temporal CLI.
export SNAKEPOOL_PYTHON   := $(PY)
export SNAKEPOOL_TEMPORAL := $(TEMPORAL)

GO_TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# --- installs ---------------------------------------------------------------------------------

$(TEMPORAL):
	@echo ">> building the Temporal CLI $(TEMPORAL_CLI_VERSION) into bin/ (about 4 minutes, once)"
	GOBIN=$(BIN) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

# The stamp is rebuilt when the package metadata changes.
$(VENV)/.installed: python/pyproject.toml
	@test -x $(PY) || $(SYSTEM_PY) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e 'python[dev,examples]'
	@touch $@

$(VENV_MIN)/.installed: python/pyproject.toml Makefile
	@test -x $(PY_MIN) || $(SYSTEM_PY) -m venv $(VENV_MIN)
	$(PY_MIN) -m pip install --quiet --upgrade pip
	$(PY_MIN) -m pip install --quiet -e 'python[test,examples]' 'grpcio==$(GRPCIO_MIN)' 'protobuf==$(PROTOBUF_MIN)'
	@touch $@

.PHONY: deps
deps: $(TEMPORAL) $(VENV)/.installed ## install the Temporal CLI and the Python package (idempotent)

# The benchmark harness's own tools (temporalio, matplotlib) stay out of the product's .venv.
$(BENCH_VENV)/.installed: bench/requirements.txt
	@test -x $(BENCH_PY) || $(SYSTEM_PY) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -r bench/requirements.txt
	@touch $@

.PHONY: bench-deps
bench-deps: $(BENCH_VENV)/.installed ## install the benchmark harness's tools into .venv-bench (idempotent)

# --- code generation --------------------------------------------------------------------------

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

# The Go side generates the messages only: the pools talk to Python over socket pairs, not over
# the Bridge gRPC service (Python serves that for grpcurl and tests), so package pools links no grpc.
.PHONY: proto
proto: $(VENV)/.installed $(BIN)/protoc-gen-go ## regenerate the Go and Python bridge code
	$(PY) -m grpc_tools.protoc -I proto \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=proto --go_opt=paths=source_relative \
		--python_out=python/src --pyi_out=python/src --grpc_python_out=python/src \
		proto/snakepool/bridge/v1/bridge.proto

# --- checks -----------------------------------------------------------------------------------

.PHONY: lint
lint: $(VENV)/.installed $(BENCH_VENV)/.installed ## gofmt, go vet, ruff, mypy
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(VENV)/bin/ruff check python bench examples chaos cmd
	$(VENV)/bin/ruff format --check python bench examples chaos cmd
	cd python && $(VENV)/bin/mypy
	cd python && $(VENV)/bin/mypy $(addprefix ../,$(shell git ls-files 'examples/*.py' 'chaos/*.py'))  # the examples and the chaos adapter, strict too
	cd python && $(VENV)/bin/mypy $(addprefix ../,$(shell git ls-files 'cmd/*.py'))      # the CLI's probe and test adapters
	cd bench && $(BENCH_PY) -m mypy

.PHONY: test
test: deps bench-deps lint ## install what is missing, then Go tests (unit + integration), a short fuzz run, pytest (newest and lowest grpcio/protobuf), the bench smoke run
	go test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz-smoke
	cd python && $(PY) -m pytest -q
	$(MAKE) --no-print-directory test-min
	cd bench && $(BENCH_PY) -m pytest -q  # the harness: unit tests and a seconds-long smoke run of make bench

.PHONY: test-min
test-min: $(VENV_MIN)/.installed ## pytest against the lowest supported grpcio and protobuf (.venv-min/)
	cd python && $(PY_MIN) -c 'import grpc, google.protobuf as p; print("grpcio", grpc.__version__, "protobuf", p.__version__)'
	cd python && $(PY_MIN) -m pytest -q

# The fuzz targets of the parsers of bad input (docs/reliability.md#bad-input). `go test` runs their
# seed corpora (testdata/fuzz/) as tests; this fuzzes each target besides, for a number of inputs
# (about 10 s each on a loaded 2-core machine). A count, not a duration: Go 1.26's fuzz coordinator
# can fail a run bounded by a duration with a spurious "context deadline exceeded"
# (golang/go#75804). A failing input is written to the package's testdata/fuzz/<target>/: commit it
# with the fix. Longer: `make fuzz-smoke FUZZ_SPEC=2000000x FUZZ_CONFIG=200000x`.
FUZZ_SPEC   ?= 20000x
FUZZ_CONFIG ?= 10000x
.PHONY: fuzz-smoke
fuzz-smoke: ## fuzz the Pipeline spec and config parsers (FUZZ_SPEC, FUZZ_CONFIG inputs)
	go test -run='^$$' -fuzz='^FuzzParseSpec$$' -fuzztime=$(FUZZ_SPEC) ./workflows
	go test -run='^$$' -fuzz='^FuzzLoadConfig$$' -fuzztime=$(FUZZ_CONFIG) ./worker

.PHONY: replay-record
replay-record: deps ## record the Pipeline histories of the latest version's scenarios not yet committed (workflows/testdata/replay/), replayed by `make test`
	go test -race -count=1 -tags replayrecord -run '^TestRecordReplayHistories$$' ./workflows/

# The full chaos suite: every scenario with its full sizes (bounded: 15 minutes at most, 4 to 5 minutes
# on 2 cores); `make test` runs the reduced one. docs/reliability.md ("Chaos") explains the table.
.PHONY: chaos
chaos: deps ## run the chaos suite against a dev server and print one row per scenario
	SNAKEPOOL_CHAOS=full go test -count=1 -timeout 15m -v -run '^TestChaos$$' ./chaos/

.PHONY: bench
bench: deps bench-deps ## run every benchmark and write docs/benchmarks.md (and the README's headline block)
	$(BENCH_PY) bench/run.py

.PHONY: bench-smoke
bench-smoke: deps bench-deps ## the bench harness with tiny sizes into a temp dir (seconds; its figures mean nothing)
	cd bench && $(BENCH_PY) -m pytest -q tests/test_smoke.py

# --- demo -------------------------------------------------------------------------------------

.PHONY: build
build: ## build the worker, starter and snakepool (the adapter authors' CLI) binaries into bin/
	go build -o $(BIN)/snakepool-worker ./cmd/worker
	go build -o $(BIN)/snakepool-starter ./cmd/starter
	go build -o $(BIN)/snakepool ./cmd/snakepool

.PHONY: demo
demo: deps build ## start a dev server and a worker, run a demo pipeline, print the result, stop everything
	./scripts/demo.sh

.PHONY: clean
clean: ## remove the build outputs (keeps bin/temporal and .venv)
	rm -f $(BIN)/snakepool-worker $(BIN)/snakepool-starter $(BIN)/snakepool

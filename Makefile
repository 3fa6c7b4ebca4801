# snakepool: every target installs what it needs, idempotently, into ignored folders (bin/, .venv/).
# Tools come from the Go module proxy and PyPI only.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
BIN         := $(ROOT)/bin
VENV        := $(ROOT)/.venv
PY          := $(VENV)/bin/python
SYSTEM_PY   ?= python3
TEMPORAL    := $(BIN)/temporal

TEMPORAL_CLI_VERSION      := v1.5.1
PROTOC_GEN_GO_VERSION     := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

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

.PHONY: deps
deps: $(TEMPORAL) $(VENV)/.installed ## install the Temporal CLI and the Python package (idempotent)

# --- code generation --------------------------------------------------------------------------

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

.PHONY: proto
proto: $(VENV)/.installed $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## regenerate the Go and Python bridge code
	$(PY) -m grpc_tools.protoc -I proto \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=proto --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		--python_out=python/src --pyi_out=python/src --grpc_python_out=python/src \
		proto/snakepool/bridge/v1/bridge.proto

# --- checks -----------------------------------------------------------------------------------

.PHONY: lint
lint: $(VENV)/.installed ## gofmt, go vet, ruff, mypy
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(VENV)/bin/ruff check python bench examples
	$(VENV)/bin/ruff format --check python bench examples
	cd python && $(VENV)/bin/mypy
	cd python && $(VENV)/bin/mypy $(addprefix ../,$(shell git ls-files 'examples/*.py'))  # the examples, strict too

.PHONY: test
test: deps lint ## install what is missing, then run the Go tests (unit + integration), a short fuzz run and pytest
	go test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory fuzz-smoke
	cd python && $(PY) -m pytest -q
	cd python && SNAKEPOOL_SERVER=grpcio $(PY) -m pytest -q  # the fallback server: the same suite

# The fuzz targets of the parsers of bad input (docs/reliability.md#bad-input). `go test` runs their
# seed corpora (testdata/fuzz/) as tests; this runs each target for FUZZ_TIME besides. A failing
# input is written to the package's testdata/fuzz/<target>/: commit it with the fix.
FUZZ_TIME ?= 10s
.PHONY: fuzz-smoke
fuzz-smoke: ## fuzz the Pipeline spec and config parsers for FUZZ_TIME (10s) each
	go test -run='^$$' -fuzz='^FuzzParseSpec$$' -fuzztime=$(FUZZ_TIME) ./workflows
	go test -run='^$$' -fuzz='^FuzzLoadConfig$$' -fuzztime=$(FUZZ_TIME) ./worker

.PHONY: replay-record
replay-record: deps ## re-record the Pipeline histories of the current code (workflows/testdata/replay/), replayed by `make test`
	go test -race -count=1 -tags replayrecord -run '^TestRecordReplayHistories$$' ./workflows/

.PHONY: bench
bench: deps ## run the benchmarks
	bench/pools.sh 4s

# --- demo -------------------------------------------------------------------------------------

.PHONY: build
build: ## build the worker and starter binaries into bin/
	go build -o $(BIN)/snakepool-worker ./cmd/worker
	go build -o $(BIN)/snakepool-starter ./cmd/starter

.PHONY: demo
demo: deps build ## start a dev server and a worker, run a demo pipeline, print the result, stop everything
	./scripts/demo.sh

.PHONY: clean
clean: ## remove the build outputs (keeps bin/temporal and .venv)
	rm -f $(BIN)/snakepool-worker $(BIN)/snakepool-starter

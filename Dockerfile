# syntax=docker/dockerfile:1
#
# The snakepool worker image: the Go worker (and starter) binaries, and a Python virtualenv at
# /app/.venv with the snakepool package, laid out like the repository so that
# examples/snakepool.yaml (python: ../.venv/bin/python) works unchanged:
#
#   /app/.venv/bin/python            the interpreter of the pools
#   /app/examples/snakepool.yaml     the default config
#   /usr/local/bin/snakepool-worker  the worker, started by tini (PID 1)
#   /usr/local/bin/snakepool-starter
#
# Build:  docker build -t snakepool .        (docker-compose.yml does this for you)
# Extras: docker build --build-arg PYTHON_EXTRAS='[examples]' -t snakepool .   (NumPy, scikit-learn)
# Your own adapters: build FROM this image, `pip install` them into /app/.venv, and mount or copy
# a config that names them.

ARG GO_VERSION=1.26
ARG PYTHON_VERSION=3.12

# --- build the Go binaries ----------------------------------------------------------------------
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/snakepool-worker ./cmd/worker \
 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/snakepool-starter ./cmd/starter

# --- runtime: Python + the snakepool package + the binaries -------------------------------------
FROM python:${PYTHON_VERSION}-slim
ARG PYTHON_EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# tini (Debian's package) is PID 1: it reaps every zombie re-parented to it, and forwards SIGTERM
# and SIGINT to the worker only, which then stops its Python processes itself. The worker also
# adopts and reaps its own tools' orphans (a child subreaper), so tini only ever sees the orphans
# of processes that are not the worker's, such as those of a `docker exec` session, which the
# worker must not take for its tools' (docs/reliability.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY python/ /app/python/
RUN python -m venv /app/.venv \
 && /app/.venv/bin/pip install "/app/python${PYTHON_EXTRAS}" \
 && rm -rf /app/python
COPY examples/ /app/examples/
COPY --from=build /out/ /usr/local/bin/
# Run unprivileged; the pools put their Unix sockets under $TMPDIR (/tmp).
RUN useradd --system --no-create-home --shell /usr/sbin/nologin snakepool
USER snakepool
ENTRYPOINT ["/usr/bin/tini", "--", "snakepool-worker"]
# Temporal is reached at temporal:7233 (the compose service); override with your own flags.
CMD ["--config", "/app/examples/snakepool.yaml", "--temporal-address", "temporal:7233"]

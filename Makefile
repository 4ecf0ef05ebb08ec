# The two commands of the quick start: `make drill` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: drill test test-deps check bench lint clean cluster cluster-down

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

drill: $(STAMP)
	$(BIN)/runbook-bot drill api-down

# Real components the tests run against, from Debian's packages: redis-server (the store and
# the Redis checks), redis-sentinel (the store behind Sentinel, and failover), Prometheus and
# Alertmanager (the end-to-end alert test), PostgreSQL (the Postgres checks), the Docker engine
# with busybox-static, from which the Docker tests build their image with `docker import` (no
# registry is reachable), debootstrap, from which the image test makes the minimal Debian base
# the bot's own image is built on, and HAProxy, the load balancer in front of the scale
# benchmark's replicas (and its smoke test). The tests start each.
APT_INSTALL = $(SUDO) apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq

test-deps:
	@command -v redis-server >/dev/null 2>&1 || { $(APT_INSTALL) redis-server >/dev/null; }
	@command -v redis-sentinel >/dev/null 2>&1 || { $(APT_INSTALL) redis-sentinel >/dev/null; }
	@{ command -v prometheus && command -v prometheus-alertmanager; } >/dev/null 2>&1 || { \
		$(APT_INSTALL) prometheus prometheus-alertmanager >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(APT_INSTALL) postgresql >/dev/null; }
	@{ command -v dockerd && dpkg -s busybox-static; } >/dev/null 2>&1 || { \
		$(APT_INSTALL) docker.io busybox-static >/dev/null; }
	@command -v debootstrap >/dev/null 2>&1 || { $(APT_INSTALL) debootstrap >/dev/null; }
	@{ command -v haproxy || test -x /usr/sbin/haproxy; } >/dev/null 2>&1 || { \
		$(APT_INSTALL) haproxy >/dev/null; }

check: $(STAMP)
	$(BIN)/ruff check bot tests bench cluster
	$(BIN)/ruff format --check bot tests bench cluster
	$(BIN)/mypy

test: $(STAMP) test-deps check
	$(BIN)/runbook-bot lint playbooks
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# A real control plane (etcd, kube-apiserver, kube-controller-manager) built from source with Go
# (cluster/go.mod pins the release) on loopback; `export KUBECONFIG=.cluster/kubeconfig` to use it.
cluster: $(STAMP)
	$(BIN)/python -m cluster.control_plane up

cluster-down: $(STAMP)
	$(BIN)/python -m cluster.control_plane down

lint: $(STAMP)
	$(BIN)/runbook-bot lint playbooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands do everything: `make demo` and `make test`. Both set up .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit test-e2e up down clean bench-http

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools' notice that an editable install prefers folders named like the package is for others'
	@# layouts; ours is meant that way, so a fresh install stays quiet.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## Start the island, cut its uplink, prove the crisis page stays reachable, print the report.
demo: $(STAMP)
	$(BIN)/island demo

## Every test tier this machine can run (tiers it cannot run are skipped with the reason).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -m 'not e2e' $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

up: $(STAMP)
	$(BIN)/island up

down: $(STAMP)
	$(BIN)/island down

clean:
	rm -rf $(VENV) out test-output build *.egg-info .pytest_cache

## The island resolver against Unbound on the island's own names (dnsperf; installs dnsperf and unbound if missing).
## Not part of `make test`: a benchmark on a shared machine, reported as a ratio measured in the same run.
.PHONY: bench-dns
bench-dns: $(STAMP)
	$(BIN)/python -m bench.dns.run $(BENCH_ARGS)
## The crisis page against nginx serving the same bytes, one core each; ends with the ratio line.
bench-http: $(STAMP)
	$(BIN)/python bench/http/bench.py $(BENCH_ARGS)
## Safe-and-well registrations and lookups per second on one core with durable commits, against bare SQLite.
.PHONY: bench-registry
bench-registry: $(STAMP)
	$(BIN)/python bench/registry/bench.py $(BENCH_ARGS)
## A resident's crisis name and page p99 at rest and under each attack (bench/hostile), in one run; the ratios.
.PHONY: bench-hostile
bench-hostile: $(STAMP)
	$(BIN)/python -m bench.hostile.run $(BENCH_ARGS)
## A region of 1 hub + 5 islands (nats-server, one replicator process per place): registrations/s end to end
## against raw JetStream on the same servers, replication lag, and convergence after a 60 s cut of one island.
.PHONY: bench-region
bench-region: $(STAMP)
	$(BIN)/python bench/region/bench.py $(BENCH_ARGS)

## Cost as the work grows (issue 18): the page at 1-200 messages, the resolver's cache, the registry at 10k-1M
## records. About 15 minutes; BENCH_ARGS=--quick stops the registry at 100k.
.PHONY: bench-scale
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale.run $(BENCH_ARGS)

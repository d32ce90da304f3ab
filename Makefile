# The two commands of the README:  make run  |  make test
# Everything else here is what they are made of; `make help` lists it.
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed
KAFKA := infra/kafka/kafka.sh

.PHONY: help run test unit browser fuzz bench bench-collector bench-pipeline bench-peers bench-decisions bench-quality bench-recommend kafka-fetch kafka-start kafka-stop topics clean

help:
	@echo "make run      start Tastemaker (and a local Kafka unless TASTEMAKER_BROKER is set); Ctrl-C stops"
	@echo "make test     run every test (unit and integration, against a real Kafka started for the run)"
	@echo "make unit     run the unit tests only (no Kafka)"
	@echo "make browser  install Debian's chromium for the browser tests (as root, when it is missing)"
	@echo "make fuzz     $(FUZZ_EXAMPLES) generated requests per endpoint of app/web/openapi.json against a real worker"
	@echo "              (Schemathesis): server errors, hangs, schema mismatches per endpoint (FUZZ_EXAMPLES)"
	@echo "make bench    every benchmark (bench/), each next to a baseline from the same run:"
	@echo "              bench-collector (events/s, latency), bench-pipeline (stream events/s),"
	@echo "              bench-peers (the stream core next to aiokafka, bare Faust and Quix Streams on the same"
	@echo "              events: BENCH_WORKLOAD=longtail|default), bench-decisions (event-to-decision latency)"
	@echo "make bench-quality  recommendation quality: MovieLens 100k p@10/AUC, session next-item hit rate (no Kafka)"
	@echo "make bench-recommend  /recommendations latency and req/s on one worker, event-to-list freshness"
	@echo "make kafka-start / kafka-stop   the local broker on its own (KAFKA_PORT, default 9092)"
	@echo "make topics   create Tastemaker's topics on TASTEMAKER_BROKER"

# Install into a local virtual environment, again only when pyproject.toml changes.
# lightfm-next is compiled here (~1 min): its manylinux wheel links `__log_finite`, which glibc >= 2.31 no
# longer exports, so it does not import. LIGHTFM_NO_CFLAGS drops its -march=native -ffast-math: a portable
# build, safe to reuse from pip's wheel cache on another CPU.
LIGHTFM_FROM_SOURCE := PIP_NO_BINARY=lightfm-next LIGHTFM_NO_CFLAGS=1
$(INSTALLED): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(LIGHTFM_FROM_SOURCE) $(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	@$(VENV)/bin/python -c 'import lightfm' || { echo "lightfm does not import: 'make clean' and install again" >&2; exit 1; }
	touch $@

run: $(INSTALLED)
	@scripts/run.sh

test: $(INSTALLED) kafka-fetch browser
	$(VENV)/bin/pytest

unit: $(INSTALLED)
	$(VENV)/bin/pytest tests/unit

# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "The browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium' or 'sudo make browser'" >&2; \
	  exit 1; \
	fi

# The API contract fuzzed (scripts/fuzz.py): a Kafka of its own unless TASTEMAKER_TEST_BROKER is set. The test
# suite runs a few dozen requests per endpoint (tests/integration/test_fuzz.py); this runs FUZZ_EXAMPLES.
FUZZ_EXAMPLES ?= 1000
fuzz: $(INSTALLED) kafka-fetch
	$(VENV)/bin/python scripts/fuzz.py --examples $(FUZZ_EXAMPLES)

# Benchmarks are never part of the test suite: timings belong here (BENCH_RUNS, BENCH_SECONDS, ...: see each script).
bench: bench-collector bench-pipeline bench-peers bench-decisions bench-quality bench-recommend

# What bench-peers and bench-decisions need beyond the test extra (pyproject.toml's `bench` extra: Quix Streams, the
# peer, and confluent-kafka, its client and bench-decisions' load generator), installed with the test extra so that
# pip resolves both together, again only when pyproject.toml changes.
BENCH_INSTALLED := $(VENV)/.installed-bench
$(BENCH_INSTALLED): $(INSTALLED) pyproject.toml
	$(LIGHTFM_FROM_SOURCE) $(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

bench-collector: $(INSTALLED) kafka-fetch
	$(VENV)/bin/python bench/collector.py

bench-pipeline: $(INSTALLED) kafka-fetch
	$(VENV)/bin/python bench/pipeline.py

# One table: floor (aiokafka + orjson), bare Faust with one table write, Quix's sliding count, Tastemaker reduced
# (no rules) and full (50 rules); medians of BENCH_RUNS, ratios, and the goals they are read against (bench/peers.py).
bench-peers: $(BENCH_INSTALLED) kafka-fetch
	$(VENV)/bin/python bench/peers.py

bench-decisions: $(BENCH_INSTALLED) kafka-fetch
	$(VENV)/bin/python bench/decision_latency.py

# Fetches MovieLens 100k into .cache/movielens on first run (BENCH_SEEDS, default 3; BENCH_QUICK=1: one seed).
bench-quality: $(INSTALLED)
	$(VENV)/bin/python bench/recommend_quality.py

bench-recommend: $(INSTALLED) kafka-fetch
	$(VENV)/bin/python bench/recommend_serving.py

kafka-fetch:
	@$(KAFKA) fetch

kafka-start:
	@$(KAFKA) start

kafka-stop:
	@$(KAFKA) stop

topics: $(INSTALLED)
	$(VENV)/bin/faust -A app create-topics

clean:
	rm -rf $(VENV) .run var .pytest_cache

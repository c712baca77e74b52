# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint rules install install-test kafka-jars registry-app clean

demo: install  ## run the whole flow on a local Kafka with sample data
	$(BIN)/numguard demo

test: install-test kafka-jars registry-app lint rules  ## install everything the tests need, then run them
	$(BIN)/pytest

rules: install  ## check the Prometheus alert rules and run their unit tests
	promtool check rules monitoring/alerts.yml
	promtool test rules monitoring/alerts.test.yml

lint: install-test  ## ruff (each file once: the linked folders are linted where they live) and mypy (package, tests, bench)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@if docker compose version >/dev/null 2>&1; then \
		POSTGRES_PASSWORD=unused docker compose config --quiet && echo "docker-compose.yml: valid"; \
	else echo "docker-compose.yml: no compose plugin here; checked by tests/test_compose.py only"; fi

BOMBARDIER := github.com/codesenberg/bombardier@v1.2.6

bench: install-test kafka-jars  ## every stage's throughput beside its reference (about 30 min)
	go install $(BOMBARDIER)
	PATH="$$(go env GOPATH)/bin:$$PATH" $(BIN)/python -m bench

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	./scripts/install-system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

kafka-jars: install  ## fetch the pinned Apache Kafka jars (cached after the first run)
	$(BIN)/python -m numguard.devtools.localkafka.jars

registry-app: install  ## fetch the pinned Apicurio Registry, the tests' schema registry (cached)
	$(BIN)/python -m numguard.devtools.localregistry.app

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Two commands: `make run` (set up and start on SQLite with the built-in config) and
# `make test` (set up and run the whole suite). The Dockerfile runs `make install` too.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make install EDITABLE=` installs a regular (non-editable) copy, as the image does.
EDITABLE ?= -e
EXTRAS ?=
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: install install-test run test test-lowest lint services system-packages bench clean image-install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet $(EDITABLE) ".$(if $(EXTRAS),[$(EXTRAS)])"

install-test:
	$(MAKE) install EXTRAS=test

run: install
	$(BIN)/firebell serve --host $(HOST) --port $(PORT)

# Start PostgreSQL when it is installed here but not running (tests use both databases).
services:
	@if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start; \
		for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi

# Programs the tests run: journalctl (logs.journald) and systemd-journal-remote, which
# writes the journal file its tests read. apt-get (Debian, as root) only when missing.
JOURNAL_REMOTE := $(firstword $(wildcard /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote))
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`,
# which downloads a browser of its own), with a font so pages render text.
system-packages:
	@if ! command -v journalctl >/dev/null 2>&1 || [ -z "$(JOURNAL_REMOTE)" ] \
		|| ! command -v chromium >/dev/null 2>&1 || [ ! -d /usr/share/fonts/truetype/dejavu ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends systemd systemd-journal-remote chromium fonts-dejavu-core; \
	fi

test: install-test services system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite again on the lowest versions pyproject.toml allows (uv's lowest-direct
# resolution), so a floor that no longer holds fails here rather than at a user's site.
LOWEST_VENV ?= build/lowest-venv
test-lowest: install-test services system-packages
	rm -rf $(LOWEST_VENV)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(LOWEST_VENV)
	VIRTUAL_ENV=$(LOWEST_VENV) $(BIN)/uv pip install --quiet --resolution lowest-direct -e ".[test]"
	$(LOWEST_VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

# The Dockerfile's install step (a regular, non-editable install) and a smoke run of it,
# so CI exercises what the image ships: packaged migrations included.
image-install:
	rm -rf build/image-venv build/image-check.db
	$(MAKE) install VENV=build/image-venv EDITABLE=
	cd build && image-venv/bin/firebell --help >/dev/null
	cd build && printf 'database_url: sqlite:///./image-check.db\n' > image-check.yaml \
		&& image-venv/bin/firebell db upgrade --config image-check.yaml
	# The wheel carries the page and serves it: the list (open access on loopback), every
	# CSS/JS file it links (the vendored htmx included) and the login page.
	cd build && image-venv/bin/python ../.ci/serve_check.py image-venv/bin/firebell image-check.yaml

bench: install-test
	$(BIN)/python benchmarks/storm.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis

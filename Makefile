# `make run` and `make test` do all set-up on a fresh machine (Python 3.11 with venv).
# `run` (and `install`, `selftest`) install the runtime packages only; `test`, `bench` and
# `soak` add the test and lint tools (pytest, ruff, mypy...), which `run` never needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench soak selftest clean tmux chromium postgresql docs assets screenshots

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "Error: Python 3.11 or newer is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

# The test tools include the runtime: a tested environment runs too.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

install: $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python monitoringApp.py -m

selftest: $(RUN_STAMP)
	$(BIN)/python monitoringApp.py -t

# The live view's tests drive a real terminal (tmux): installed from Debian when missing.
tmux:
	@command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux; }

# Two passes: the tests tests/serial.py names assert on the real clock (how soon, how fast),
# so they run alone, after the others have run on TEST_WORKERS workers (pytest-xdist; the
# tests mostly wait on processes and sockets, so more workers than the 2 cores pay).
TEST_WORKERS ?= 4

# The web pages' tests drive Debian's Chromium through Playwright (never a browser Playwright
# downloads): installed from Debian when missing.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# The PostgreSQL store's tests start a real server (initdb and pg_ctl from Debian's
# postgresql, run as its unprivileged `postgres` user): installed from Debian when missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql; }

test: $(STAMP) tmux chromium postgresql
	$(BIN)/ruff check monitor tests bench monitoringApp.py docs
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not serial" -n $(TEST_WORKERS) --dist loadfile
	$(BIN)/python -m pytest -m serial

# The generated parts of README.md and docs/*.md (cog blocks), from the code; `make test`
# fails while they are stale (tests/project/test_docs.py).
docs: $(STAMP)
	$(BIN)/python docs/gen.py

# docs/img/*.png: the web pages in Chromium, from a real run over loopback servers.
screenshots: $(STAMP) chromium
	$(BIN)/python docs/screenshots.py

# The npm packages of the web pages (assets/package.json), copied with their licences into
# monitor/web/static/vendor/, which is committed: `make run` needs neither npm nor internet.
assets:
	cd assets && npm ci --no-audit --no-fund
	$(BIN)/python assets/vendor.py

bench: $(STAMP) chromium
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.peers
	$(BIN)/python -m bench.real

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

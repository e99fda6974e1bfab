# The two commands a fresh machine needs: `make course` and `make test`.
# Each sets everything up first; every step reuses what already exists.
SHELL := /bin/bash
VENV  := .venv
LL    := $(VENV)/bin/layerlab

.PHONY: disk-test setup engine venv browser devcontainer-cli images notebooks course test test-setup unit replays lint typecheck lab grade clean help matrix

help:
	@echo "make course   set up, then run every lesson headless and write build/index.html"
	@echo "make test     set up, then typecheck, lint, unit, and the rest of the suite (engine, replays, notebooks)"
	@echo "make unit     the tests that need no engine and replay no lesson (under a minute; only the venv)"
	@echo "make lint     ruff check and ruff format --check (settings: pyproject's [tool.ruff])"
	@echo "make lab      set up, then open JupyterLab on the course"
	@echo "make grade    set up, then grade your exercises (EX=02-slim for one; AUTOGRADER=FILE: the instructor's bundle)"
	@echo "make clean    remove what the course created in the engine (base images stay)"
	@echo "make matrix   run the course on other engines, each in a throw-away machine (LEGS=\"docker-28.5 podman-5.4\")"

setup: engine venv images notebooks

engine:
	@bash scripts/timed.sh engine bash scripts/setup-engine.sh

venv:
	@bash scripts/timed.sh venv bash scripts/setup-python.sh

# Chromium for the browser test of the live build progress (tests/test_browser_lab.py);
# only `make test` needs it, so `make course` does not install a browser.
browser:
	@bash scripts/timed.sh browser bash scripts/setup-browser.sh

# The Dev Containers CLI (pinned in tools/devcontainer/) for tests/test_devcontainer.py; `make test` only.
devcontainer-cli: venv
	@bash scripts/timed.sh "devcontainer cli" bash scripts/setup-devcontainer.sh

# IMAGE_MODULES: also the images those modules need (06: the CUDA images); `make test` asks for them.
images: engine venv
	@bash scripts/timed.sh "base images" $(LL) bootstrap $(IMAGE_MODULES)

notebooks: venv
	@bash scripts/timed.sh notebooks $(LL) sync

# The CUDA images (lesson 06's) build while the lessons before it run: each lesson leaves a core idle much of the
# time, and lesson 06 waits for the machine's one bootstrap if it is still going. On a fresh machine lesson 06
# took 394 s with the build inside it (1617 s in all, of the 25 minutes issue 29 allows).
course: setup
	@bash scripts/beside.sh cuda "$(MAKE) --no-print-directory images IMAGE_MODULES=06" "$(LL) run"

# The tiers are markers that tests/conftest.py derives: `engine` from the engine_client fixture, `replay` by hand,
# `unit` for every other test. `make test` runs mypy (pyproject's [tool.mypy]; 12 to 26 s cold here, 1 s warm),
# ruff, the unit tier and the replays first, then everything else once, in two lanes side by side on the one engine:
# the lessons under nbval with the tests that read the executed lessons (after them, as the root conftest.py orders
# them), and the other engine tests. --engine-required: a missing engine fails the engine tests instead of skipping them.
# The two lanes (the root conftest's --lane) run side by side: one lesson's builds and waits leave a core idle.
# Each has its own temporary folder and no pytest cache, so neither cleans up what the other uses.
PYTEST_LANE = $(VENV)/bin/python -m pytest --engine-required --nbval-lax --durations=20 -p no:cacheprovider \
	-m 'not unit' tests notebooks --lane
test: disk-test engine venv notebooks test-setup
	@bash scripts/beside.sh --both lessons "$(PYTEST_LANE) lessons --basetemp=/tmp/layerlab-pytest-lessons" \
	  "$(PYTEST_LANE) tests --basetemp=/tmp/layerlab-pytest-tests"

# Before anything is installed: on a fresh Debian 12 machine (9a7211e, `../shared/tools/fresh-machine -- 'make test'`)
# the engine's store peaked at 30.1 GB and the disk's free space fell by 33.2 GB in all, so the venv, browser and
# packages beside it took about 3 GB (4 GB allowed). A run on a store that already holds the images needs less.
disk-test:
	@bash scripts/need-disk.sh "make test" 30 4

# The base images, the CUDA ones included (lesson 06 and its exercise need them), build beside the steps that need
# no engine: for minutes of that build one core of two is idle (qemu runs each emulated arm64 step as one process).
# Within `make test` the set-up has run, so what it installs must be there: the unit tier gets --engine-required
# too (the course page's Chromium check fails instead of skipping).
test-setup: engine venv
	@bash scripts/beside.sh images "$(MAKE) --no-print-directory images IMAGE_MODULES=06" \
	  "$(MAKE) --no-print-directory -j1 browser devcontainer-cli typecheck lint unit replays UNIT_FLAGS=--engine-required"

# No engine needed: the unit tier runs with the engine out of reach, so a test that needs one and does not
# ask for engine_client fails here. Under a minute: 349 tests took 24 s of CPU here (53 s on a machine shared 4 ways).
unit: venv
	@bash scripts/timed.sh unit $(VENV)/bin/python -m pytest -m unit $(UNIT_FLAGS) --durations=10 tests

# The lessons from their recordings (the `replay` tier, the root conftest's `replays` lane): no engine, so
# `make test` runs them in its set-up, on the core the base images' build leaves idle part of the time.
replays: venv notebooks
	@bash scripts/timed.sh replays $(VENV)/bin/python -m pytest -m replay --lane replays -p no:cacheprovider \
	  --durations=5 --basetemp=/tmp/layerlab-pytest-replays tests

lint: venv
	@bash scripts/timed.sh lint bash -c '$(VENV)/bin/ruff check && $(VENV)/bin/ruff format --check'

typecheck: venv
	@bash scripts/timed.sh typecheck $(VENV)/bin/mypy

lab: setup
	@$(VENV)/bin/jupyter lab --allow-root --ip=127.0.0.1 --notebook-dir=.

# Grade every exercise folder under exercises/ (or one: make grade EX=02-slim); reports land in build/grade/.
# A student release has no fixtures: AUTOGRADER=FILE grades with the instructor's bundle, and without it the first
# exercise says so in one line (exit 2, no report) and the rest are not tried.
grade: setup
	@mkdir -p build/grade; rc=0; \
	for d in exercises/$(or $(EX),*)/; do id=$$(basename $$d); \
	  $(LL) grade $$d --exercise $$id $(if $(AUTOGRADER),--autograder $(AUTOGRADER)) --format json > build/grade/$$id.json; r=$$?; \
	  if [ $$r -eq 2 ]; then rm -f build/grade/$$id.json; exit 2; fi; \
	  $(VENV)/bin/python -c "import json,sys; d=json.load(open(sys.argv[1])); print(('PASSED ' if d['passed'] else 'FAILED ')+d['exercise']+': '+str(d['points'])+'/'+str(d['max_points'])+' points')" build/grade/$$id.json; \
	  [ $$r -eq 0 ] || rc=1; done; \
	echo "reports: build/grade/*.json (run \`$(LL) grade exercises/ID\` for the full text)"; exit $$rc

# Not part of `make test` (each leg is a whole course run); the recorded result is docs/matrix.json.
matrix: engine venv images
	@$(LL) matrix $(or $(LEGS),$(shell $(LL) matrix --list | awk 'NR % 2 == 1 {print $$1}'))

clean: venv
	@$(LL) clean

# The commands the README names. `make book` and `make test` do all the set-up on a fresh machine.
#   make book     render the committed record (the executed pages in book/ and book/full/) as HTML:
#                 no execution, no data, no network; the working tree stays as it is
#   make test     the test suite (a small sample of the real data is committed with it, tests/data/sample)
#   make rerun    execute the notebooks again (PROFILE=quick by default), then render the HTML: fetches
#                 the data the notebooks need first, and stops before executing anything when some are
#                 still missing (RERUN_OPTIONS=--skip-missing or --stand-ins, see `python -m hmc run -h`)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= quick
# Where the notebooks' results tables and manifests go (empty: results/, or _build/stand-ins/results
# with --stand-ins). The sweeps read finished units back from these tables, so with the committed
# results/ `make rerun` re-executes the pages from them; point it at an empty folder
# (`make rerun RESULTS=/tmp/fresh`) to train every unit again.
RESULTS ?=
RERUN_OPTIONS ?=
# Options of the HTML build (the tests build with -W: warnings are errors).
JB_OPTIONS ?= -n --keep-going
PYTEST_OPTIONS ?=
define JB_BUILD
$(VENV)/bin/jupyter-book build --all . $(JB_OPTIONS)
@echo "Open _build/html/book/intro.html in a browser."
endef

# In this project's own environment the data sit beside the checkout, in ../shared/data.
ifeq ($(HMC_DATA_DIR),)
ifneq ($(wildcard ../shared/data),)
export HMC_DATA_DIR := $(abspath ../shared/data)
endif
endif

# The evidence campaign: `make campaign BUDGET=150m` advances the full design by a time budget
# (one thread by default, so the other core stays free); `make campaign-status` prints its coverage.
BUDGET  ?= 150m
THREADS ?= 1

.PHONY: book test rerun notebooks html clean chromium campaign campaign-status

# Create or update the virtual environment: reinstalls when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (hmc)" > /dev/null
	touch $(STAMP)

# The committed record as HTML, executing nothing (about 10 s after the install).
book: html

html: $(STAMP)
	$(JB_BUILD)

# Execute the notebooks again, then render. A notebook whose data are missing is never executed over
# its committed page (see `python -m hmc run -h`).
rerun: notebooks
	$(JB_BUILD)

notebooks: $(STAMP)
	$(PY) -m hmc run --all --profile $(PROFILE) $(if $(RESULTS),--results $(RESULTS)) $(RERUN_OPTIONS)

# The cluster executor's engine (Ray, the optional extra [cluster]) for its tests: `make test` installs
# it so that CI tests it; `make book` does not need it.
CLUSTER_STAMP := $(VENV)/.installed-cluster
$(CLUSTER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[cluster]"
	touch $(CLUSTER_STAMP)

test: $(STAMP) $(CLUSTER_STAMP) chromium
	$(PY) -m pytest $(PYTEST_OPTIONS)

campaign: $(STAMP)
	OMP_NUM_THREADS=$(THREADS) MKL_NUM_THREADS=$(THREADS) $(PY) -m hmc campaign --budget $(BUDGET) --threads $(THREADS)

campaign-status: $(STAMP)
	$(PY) -m hmc campaign status

# A headless browser for tests/test_book_browser.py (it skips without one). Installs Debian's
# chromium (about 30 s) where it is missing and this runs as root with apt-get; otherwise it says
# why and goes on. Never fails the build.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	    || command -v google-chrome >/dev/null 2>&1 || [ -n "$$HMC_CHROMIUM" ]; then \
	  :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "chromium: not installed and not root, so not installing it: the browser test will skip"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "chromium: not installed and no apt-get: the browser test will skip"; \
	else \
	  echo "chromium: installing Debian's chromium for the browser test"; \
	  DEBIAN_FRONTEND=noninteractive timeout 180 sh -c 'apt-get update -qq \
	    && apt-get install -y -qq --no-install-recommends chromium >/dev/null' \
	    || echo "chromium: apt-get install failed: the browser test will skip"; \
	fi

clean:
	rm -rf _build

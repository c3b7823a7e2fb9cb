# The commands the README names. `make book` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= quick

# In this project's own environment the data sit beside the checkout, in ../shared/data.
ifeq ($(HMC_DATA_DIR),)
ifneq ($(wildcard ../shared/data),)
export HMC_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: book test notebooks html clean

# Create or update the virtual environment: reinstalls when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (hmc)" > /dev/null
	touch $(STAMP)

book: notebooks html

notebooks: $(STAMP)
	$(PY) -m hmc run --all --profile $(PROFILE)

html: $(STAMP)
	$(VENV)/bin/jupyter-book build --all . -n --keep-going
	@echo "Open _build/html/book/intro.html in a browser."

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf _build

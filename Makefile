# Two commands do everything on a fresh machine with Python 3.11, make and apt:
#   make demo   install, assemble the embedded model, run the sample call end to end
#   make test   install (with PostgreSQL for the store tests) and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := samples/complaint_zh/call.flac

.PHONY: demo test install model clean bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "callqa needs Python 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python venv is missing: installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

model: install
	$(BIN)/callqa model assemble

demo: model
	$(BIN)/callqa review $(SAMPLE) --out out/demo --show-transcript
	@echo "open out/demo/sample-complaint-zh.html in a browser for the reviewer's page"
	@echo "the call is also in the default store; to open it in the reviewer workspace:"
	@echo "  $(BIN)/callqa users add ana --role reviewer   # asks for a password (10+ characters)"
	@echo "  $(BIN)/callqa serve                            # then http://127.0.0.1:8000/calls/sample-complaint-zh"


test: install
	bash tools/ensure_postgres.sh >/dev/null
	bash tools/ensure_browser.sh >/dev/null
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: model
	$(BIN)/python bench/transcribe.py
	$(BIN)/python bench/diarization.py
	$(BIN)/python bench/questions.py
	$(BIN)/python bench/tagging.py
	$(BIN)/python bench/scoring.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

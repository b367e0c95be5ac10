# alkahest: build, test and demo entry points.
#
#   make setup   install missing Debian packages, create .venv, install requirements-dev.txt
#   make build   build the PyO3 extension (release) into .venv with every feature this
#                machine supports (scripts/features.py; override with ALKAHEST_FEATURES)
#   make test    setup, then fmt --check, ruff, clippy -D warnings, cargo test,
#                feature-combination checks, build, stubtest, pytest  (what CI runs)
#   make demo    setup, build, run examples/demo.py
#   make lint    fmt --check, ruff, clippy
#   make stubtest  mypy's stubtest: _alkahest.pyi against the built extension
#   make bench   build, run benches/bench_peers.py and the Rust benches
#   make fmt     format Rust and Python sources in place
#   make wheels  build the wheels into dist/ (WHEELS=base|llvm|full|all, default all; see README)
#   make wheel-check  install dist/'s wheels into fresh venvs, offline, and run the
#                spec examples and one smoke test per tier
#   make fuzz    long differential fuzzing: new random cases every run (FUZZ_EXAMPLES
#                hypothesis examples, FUZZ_CASES proptest cases per differential test)
#   make clean   remove stamps, built extension modules and Python caches
#   make distclean  clean, and remove .venv and the cargo target dir
#
# The cargo target dir lives outside the clone so fresh clones (CI) reuse it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.SUFFIXES:
# Prerequisites run one at a time, left to right, even under -j.
.NOTPARALLEL:

ROOT   := $(CURDIR)
VENV   := $(ROOT)/.venv
PY     := $(VENV)/bin/python
FEATURES := $(PY) $(ROOT)/scripts/features.py

CARGO ?= cargo
CARGO_TARGET_DIR ?= $(HOME)/.cache/alkahest/target
export CARGO_TARGET_DIR
# Also set in .cargo/config.toml; exported here for tools run outside the repo root.
export LLVM_SYS_191_PREFIX ?= /usr/lib/llvm-19
export MLIR_SYS_190_PREFIX ?= /usr/lib/llvm-19
export TABLEGEN_190_PREFIX ?= /usr/lib/llvm-19
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
# pyo3's build script (clippy on alkahest-py) must find the venv's interpreter.
export PYO3_PYTHON := $(PY)
# Defined by the test suite (tests/conftest.py).
export HYPOTHESIS_PROFILE ?= ci
# proptest draws the same cases on every run, so CI passes or fails on the
# code, not on the draw; failures found once are kept in the tests'
# *.proptest-regressions files. Explore new cases with
# `env -u PROPTEST_RNG_SEED cargo test` (or another seed).
export PROPTEST_RNG_SEED ?= 20261205
export CARGO_TERM_COLOR ?= auto

PYTEST_ARGS ?= -ra --durations=15
PY_CRATE := crates/alkahest-py/Cargo.toml
# The crate whose features are each checked alone.
COMBO_CRATE := alkahest-compile

# Run a command inside the venv (maturin needs VIRTUAL_ENV to install there).
IN_VENV := env VIRTUAL_ENV=$(VENV) PATH=$(VENV)/bin:$$PATH

.PHONY: help setup build test demo lint bench fmt fmt-check ruff clippy cargo-test \
        check-features stubtest pytest features clean distclean wheels wheel-check fuzz

help:
	@sed -n '3,17s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

setup:
	@bash scripts/setup.sh

features: setup
	@echo "supported:        $$($(FEATURES) supported 2>/dev/null)"
	@echo "alkahest-py:      $$($(FEATURES) py 2>/dev/null)"
	@echo "cargo test:       $$($(FEATURES) pkg-features default 2>/dev/null)"
	@echo "clippy:           $$($(FEATURES) pkg-features all 2>/dev/null)"
	@echo "checked alone:    $$($(FEATURES) combos $(COMBO_CRATE) 2>/dev/null | tr '\n' ' ')"
	@echo "CARGO_TARGET_DIR: $(CARGO_TARGET_DIR)"

# Command-line --features replace [tool.maturin] features, so pyo3/extension-module
# is repeated here (maturin also sets PYO3_BUILD_EXTENSION_MODULE=1).
build: setup
	@feats="$$($(FEATURES) py)"; \
	args=(develop --release -m $(PY_CRATE) --features "pyo3/extension-module$${feats:+,$${feats// /,}}"); \
	echo "+ maturin $${args[*]}"; \
	$(IN_VENV) $(VENV)/bin/maturin "$${args[@]}"

# Steps run in the order listed (.NOTPARALLEL): cheap checks first.
test: setup fmt-check ruff clippy cargo-test check-features build stubtest pytest
	@echo "make test: all steps passed"

demo: build
	$(PY) examples/demo.py

lint: setup fmt-check ruff clippy

fmt-check:
	$(CARGO) fmt --all --check

ruff: setup
	$(VENV)/bin/ruff check python tests benches

clippy: setup
	@feats="$$($(FEATURES) pkg-features all)"; \
	args=(clippy --workspace --all-targets); \
	if [[ -n "$$feats" ]]; then args+=(--features "$$feats"); fi; \
	echo "+ $(CARGO) $${args[*]} -- -D warnings"; \
	$(CARGO) "$${args[@]}" -- -D warnings

# Every crate's tests but the PyO3 crate's (pytest covers it), backends included;
# crate/feature flags of alkahest-py are dropped because it is not selected.
cargo-test: setup
	@feats="$$($(FEATURES) pkg-features all | tr ',' '\n' | grep -v '^alkahest-py/' | paste -sd, -)"; \
	args=(test --workspace --exclude alkahest-py); \
	if [[ -n "$$feats" ]]; then args+=(--features "$$feats"); fi; \
	echo "+ $(CARGO) $${args[*]}"; \
	$(CARGO) "$${args[@]}"

# cargo check (not full builds) of feature combinations: the default members with
# no default features, then each feature of $(COMBO_CRATE) alone.
check-features: setup
	$(CARGO) check --no-default-features
	@if [[ -f crates/$(COMBO_CRATE)/Cargo.toml ]]; then \
	  for f in $$($(FEATURES) combos $(COMBO_CRATE)); do \
	    echo "+ $(CARGO) check -p $(COMBO_CRATE) --no-default-features --features $$f"; \
	    $(CARGO) check -p $(COMBO_CRATE) --no-default-features --features "$$f"; \
	  done; \
	fi

# The typing stubs against the extension `make build` installed (so it is not
# part of `lint`, which does not build): every name, signature and class the
# stub declares must exist at run time as declared. Accepted differences are
# listed, with reasons, in python/stubtest-allowlist.txt.
stubtest: setup
	$(PY) -m mypy.stubtest alkahest._alkahest --allowlist python/stubtest-allowlist.txt

# pytest's own exit code stands (5 = no tests collected is a failure).
pytest: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Long differential fuzzing (issue 15): every tier, the optimizer and the
# persistence round trips against the interpreter and mpmath on new random cases
# (no fixed seed, hypothesis not derandomized). `make test` runs the same tests
# with the short CI profile. FUZZ_CASES is per Rust property; the compile
# crate's campaign (every CPU tier, the optimizer, pool files and the disk
# cache on multi-output programs) splits it over two shards. Failures are kept: hypothesis's database under
# .hypothesis/, proptest's shrunk cases printed for the regressions files.
FUZZ_EXAMPLES ?= 20000
FUZZ_CASES ?= 20000
fuzz: build
	@sup=" $$($(FEATURES) supported) "; \
	args=(test --release -p alkahest-cranelift --test differential); \
	if [[ "$$sup" == *" jit "* ]]; then args+=(-p alkahest-llvm --test differential); fi; \
	if [[ "$$sup" == *" jit "* && "$$sup" == *" cranelift "* ]]; then \
	    args+=(-p alkahest-compile --test fuzz_campaign --features alkahest-compile/cranelift,alkahest-compile/jit,alkahest-compile/egraph); fi; \
	if [[ "$$sup" == *" mlir "* ]]; then args+=(-p alkahest-mlir --test engine); fi; \
	echo "+ ALKAHEST_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) $${args[*]}"; \
	env -u PROPTEST_RNG_SEED ALKAHEST_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) "$${args[@]}"
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_fuzz.py -p no:timeout $(PYTEST_ARGS)

# Release wheels (abi3, manylinux-tagged by auditwheel): base = interpreter,
# Cranelift, e-graph, rayon; the plugins llvm (alkahest[jit]) and full
# (alkahest[full]: LLVM, MLIR, CUDA) install next to it (scripts/wheels.sh).
WHEELS ?= all
wheels: setup
	bash scripts/wheels.sh $(WHEELS)

# The base wheel, then alkahest[jit] / alkahest[full] when their plugin wheels
# are in dist/, each into a fresh venv of $(WHEEL_PYTHON),
# offline, outside the project's .venv.
WHEEL_PYTHON ?= python3
wheel-check:
	PYTHON=$(WHEEL_PYTHON) bash scripts/wheel_check.sh dist

bench: build
	$(PY) benches/bench_peers.py
	$(CARGO) bench -p alkahest-interp

fmt: setup
	$(CARGO) fmt --all
	$(VENV)/bin/ruff format python tests benches

clean:
	rm -rf .stamps .pytest_cache .ruff_cache .mypy_cache .hypothesis dist
	find python tests benches examples -name '*.so' -delete 2>/dev/null || true
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf .venv target
	rm -rf "$(CARGO_TARGET_DIR)"

# annexa — the two set-up commands are `make demo` and `make test`.
CARGO ?= cargo

# Where cargo puts what it builds: honours CARGO_TARGET_DIR and cargo's own
# configuration (build.target-dir), as cargo itself reports it.
TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
ifeq ($(TARGET_DIR),)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
endif
RELEASE_DIR := $(TARGET_DIR)/release

# Python test tools live in project-local venvs, never in the system Python
# (contrib/install-deps.sh): moto_server and datalad in $(ANNEXA_VENV)/tools,
# the newest git-annex (PyPI) in $(ANNEXA_VENV)/git-annex-newest.
export ANNEXA_VENV ?= $(CURDIR)/.venv
TOOLS_PATH := $(ANNEXA_VENV)/tools/bin:$(PATH)

.PHONY: all build test test-latest lock conformance soak demo bench install deps clean wheel test-wheel fuzz

all: build

build:
	$(CARGO) build --release --locked

# Installs what the tests need when missing: git-annex (Debian package),
# moto_server and DataLad (PyPI, tools venv), the newest git-annex (PyPI venv),
# each venv exactly as its lock in contrib/python/*.txt says (versions, hashes).
DEPS_FLAGS ?=
deps:
	bash contrib/install-deps.sh $(DEPS_FLAGS)

# Re-resolves contrib/python/*.in to the newest releases and rewrites the
# locks (contrib/python/*.txt). On purpose only: run `make test` after it and
# commit the locks with whatever the new releases needed (docs/testing.md).
lock:
	bash contrib/python/lock.sh

# `make test` with every Python tool at its newest release (contrib/python/*.in,
# unlocked) in venvs of their own (.venv-latest/): shows what a lock bump
# would bring before it is made. Not part of CI.
test-latest:
	$(MAKE) test ANNEXA_VENV=$(CURDIR)/.venv-latest DEPS_FLAGS=--latest ANNEXA_LATEST=1

# Every test, within the test budget (docs/testing.md): integration tests
# mostly wait on git-annex and local servers, so nextest runs several at once
# (.config/nextest.toml groups the heavy ones by module path).
# On a fresh machine the tools install (network, apt, pip) overlaps the build
# (CPU); its output is shown once it is done.
TEST_THREADS ?= 6
test:
	@mkdir -p "$(TARGET_DIR)"; log="$(TARGET_DIR)/install-deps.log"; \
	bash contrib/install-deps.sh $(DEPS_FLAGS) >"$$log" 2>&1 & deps=$$!; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --release --locked --no-run; built=$$?; \
	else \
	  $(CARGO) test --release --locked --no-run; built=$$?; \
	fi; \
	wait $$deps; installed=$$?; cat "$$log"; \
	if [ $$installed != 0 ]; then echo "make test: installing the test tools failed" >&2; exit 1; fi; \
	if [ $$built != 0 ]; then exit $$built; fi; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  PATH="$(TOOLS_PATH)" $(CARGO) nextest run --release --locked --no-fail-fast \
	    --test-threads $(TEST_THREADS); \
	else \
	  PATH="$(TOOLS_PATH)" $(CARGO) test --release --locked -- --test-threads=$(TEST_THREADS); \
	fi

# The full conformance matrix: every `git annex testremote` case (provider ×
# variant × git-annex version) without --fast. Takes about an hour on 2 cores.
conformance: deps
	PATH="$(TOOLS_PATH)" ANNEXA_CONFORMANCE=full $(CARGO) nextest run --release --locked \
	  --no-fail-fast --profile conformance --test it -E 'test(/^testremote::/)' --test-threads 2

# The long soak and kill rounds (docs/testing.md, figures in
# docs/reliability.md): >= 1,000 transfers per provider through the
# fault-injecting proxy at -J8, and more kill -9 rounds than `make test` runs.
# Figures go to $(TARGET_DIR)/soak-report.jsonl. ANNEXA_SOAK_SEED=N changes
# the faults.
soak: deps build
	@rm -f "$(TARGET_DIR)/soak-report.jsonl"
	PATH="$(TOOLS_PATH)" ANNEXA_SOAK=long ANNEXA_SOAK_REPORT="$(TARGET_DIR)/soak-report.jsonl" \
	  $(CARGO) nextest run --release --locked --no-fail-fast --profile soak \
	  --test it -E 'test(/^(soak|kill_rounds|faults)::/)' --test-threads 2
	@cat "$(TARGET_DIR)/soak-report.jsonl"

# A Python wheel with both programs (maturin, bindings = "bin") in
# $(TARGET_DIR)/wheels. For wheels that run on older Linux distributions:
#   pip install ziglang; maturin build --release --zig --compatibility manylinux2014
WHEEL_DIR := $(TARGET_DIR)/wheels
wheel: deps
	rm -f $(WHEEL_DIR)/annexa-*.whl
	$(ANNEXA_VENV)/tools/bin/maturin build --release --locked --out $(WHEEL_DIR)

# The wheel in a fresh venv with DataLad and the PyPI git-annex: datalad
# create/push/clone/get through externaltype=annexa (CI runs it after make test).
test-wheel: wheel
	bash contrib/test-wheel.sh $(WHEEL_DIR)

# Runs the main jobs on embedded examples: no network, no accounts.
demo: build
	bash contrib/install-deps.sh --demo
	@set -e; for step in contrib/demo/*.sh; do \
	  echo "=== $$step"; PATH="$(RELEASE_DIR):$(TOOLS_PATH)" bash "$$step"; \
	done

bench: deps build
	bash contrib/install-deps.sh --bench
	@set -e; for b in bench/*.sh; do \
	  echo "=== $$b"; PATH="$(RELEASE_DIR):$(TOOLS_PATH)" bash "$$b"; \
	done

# Every fuzz target (fuzz/, its own workspace) for FUZZ_SECONDS each, on the
# stable toolchain; prints executions and crashes per target (docs/fuzzing.md).
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

# Both programs onto PATH (cargo's bin folder), their man pages into
# MANDIR; completions: `annexa completions bash|zsh|fish|powershell`.
MANDIR ?= $(HOME)/.local/share/man/man1
install:
	$(CARGO) install --locked --path .
	@annexa=$$(command -v annexa || echo "$${CARGO_HOME:-$$HOME/.cargo}/bin/annexa"); \
	  "$$annexa" man --dir "$(MANDIR)"

clean:
	$(CARGO) clean

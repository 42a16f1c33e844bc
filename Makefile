# annexa — the two set-up commands are `make demo` and `make test`.
CARGO ?= cargo
RELEASE_DIR := $(CURDIR)/target/release

.PHONY: all build test demo bench install deps clean

all: build

build:
	$(CARGO) build --release --locked

# Installs what the tests need when missing: git-annex (Debian package),
# moto_server (PyPI moto[server]) and DataLad (PyPI).
deps:
	bash contrib/install-deps.sh

# Most integration tests wait on git-annex and local servers rather than
# compute, so they run several at a time: with cargo-nextest across all test
# binaries at once, else with cargo test one binary after another.
TEST_THREADS ?= 6
test: deps
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --release --locked --no-fail-fast --test-threads $(TEST_THREADS) \
	    --status-level fail --final-status-level slow; \
	else \
	  $(CARGO) test --release --locked -- --test-threads=$(TEST_THREADS); \
	fi

# Runs the main jobs on embedded examples: no network, no accounts.
demo: build
	bash contrib/install-deps.sh --demo
	@set -e; for step in contrib/demo/*.sh; do \
	  echo "=== $$step"; PATH="$(RELEASE_DIR):$$PATH" bash "$$step"; \
	done

bench: deps build
	@set -e; for b in bench/*.sh; do echo "=== $$b"; PATH="$(RELEASE_DIR):$$PATH" bash "$$b"; done

install:
	$(CARGO) install --locked --path .

clean:
	$(CARGO) clean

# Everything a newcomer needs: `make demo` and `make test` create and reuse .venv by themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,aws,gcp,azure,gcs,azure-blob
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
CORE_STAMP := $(VENV)/.core-$(HASH)
FULL_STAMP := $(VENV)/.full-$(HASH)
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check
# `make package-aws TUNING=tuning/prod.yml` (likewise gcp, azure): check the tuning file and bundle it as
# tuning.yml at the package root, where the deployment's SECRETWATCH_TUNING=tuning.yml finds it.
TUNING ?=
TUNING_FLAG = $(if $(strip $(TUNING)),--tuning $(TUNING))

.PHONY: venv demo test test-bare-clone lint typecheck tools unit bench clean package-gcp package-azure

# The demo needs only the core; the tests need every cloud's SDK and the test tools.
$(CORE_STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "secretwatch needs Python 3.11 or newer (set PY=python3.11)")'
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e .
	@rm -f $(VENV)/.core-* && touch $@

$(FULL_STAMP): $(CORE_STAMP)
	$(PIP) -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.full-* && touch $@

venv: $(FULL_STAMP)

demo: $(CORE_STAMP)
	$(BIN)/secretwatch demo

test: lint typecheck tools unit

# Local peers and checkers the tests use, installed once into .tools/: Azurite (npm), SAM CLI and checkov
# (one virtualenv each, in parallel). The Google Cloud emulators come with the machine's Cloud SDK.
tools:
	@sh scripts/install-azurite.sh
	@$(MAKE) --no-print-directory -j2 tools-aws

package-gcp: venv
	$(BIN)/python -m scripts.package_gcp --zip build/secretwatch-gcp.zip $(TUNING_FLAG)

package-azure: venv
	$(BIN)/python -m scripts.package_azure $(TUNING_FLAG)

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The suite again on a fresh clone of HEAD with no ../shared beside it (scripts/test-bare-clone.sh).
test-bare-clone: venv tools
	bash scripts/test-bare-clone.sh

# Speed on one core, state cost (DynamoDB under moto), cold start, memory. Not part of `make test` (~1-2 min).
bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools build .secretwatch .mypy_cache .ruff_cache .pytest_cache .hypothesis

include mk/aws.mk

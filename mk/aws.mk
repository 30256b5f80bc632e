# AWS deployment: the Lambda package, and the tools that check template.yaml and infra/aws/.
# Included by the Makefile (which defines PY, BIN and venv).
#
#   make package-aws       build/aws/ (template.yaml's CodeUri) and build/secretwatch-aws.zip
#                          (TUNING=FILE bundles a checked tuning file as tuning.yml; deploy with Tuning=tuning.yml)
#   make tools-aws         SAM CLI (with cfn-lint) and checkov, each in its own virtualenv under .tools/
#   make check-aws-infra   sam validate --lint, cfn-lint, checkov, terraform fmt/init/validate
#
# SAM CLI and checkov pin libraries that clash with the project's (and with each other's), hence one
# virtualenv each. They are installed once and again only when their pinned version changes. A tool that
# cannot be installed (no PyPI) is reported in one line and does not fail the build: the tests that need it
# skip and say so.

PY ?= python3
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
AWS_TOOLS := .tools
SAM_STAMP := $(AWS_TOOLS)/sam/.installed-$(SAM_CLI_VERSION)
CHECKOV_STAMP := $(AWS_TOOLS)/checkov/.installed-$(CHECKOV_VERSION)
TF_PLUGIN_DIR ?= /opt/tf-plugins
TF_AWS_WORK := $(AWS_TOOLS)/terraform-aws
# No telemetry, no version check: these run offline.
AWS_TOOL_ENV := SAM_CLI_TELEMETRY=0 CHECKPOINT_DISABLE=1

.PHONY: package-aws tools-aws check-aws-infra

package-aws: venv
	@$(BIN)/python -m scripts.package_aws $(TUNING_FLAG)

tools-aws: $(SAM_STAMP) $(CHECKOV_STAMP)

# $(call tool-venv,NAME,REQUIREMENT): a fresh .tools/NAME virtualenv with REQUIREMENT, then the stamp ($@).
define tool-venv
	@rm -rf $(AWS_TOOLS)/$(1) && mkdir -p $(AWS_TOOLS)
	@if $(PY) -m venv $(AWS_TOOLS)/$(1) > $(AWS_TOOLS)/$(1).log 2>&1 \
		&& $(AWS_TOOLS)/$(1)/bin/python -m pip install -q --disable-pip-version-check '$(2)' >> $(AWS_TOOLS)/$(1).log 2>&1; \
	then rm -f $(AWS_TOOLS)/$(1).log && touch $@; \
	else rm -rf $(AWS_TOOLS)/$(1); echo "tools-aws: could not install $(2) (see $(AWS_TOOLS)/$(1).log); its checks will skip" >&2; fi
endef

$(SAM_STAMP):
	$(call tool-venv,sam,aws-sam-cli==$(SAM_CLI_VERSION))

$(CHECKOV_STAMP):
	$(call tool-venv,checkov,checkov==$(CHECKOV_VERSION))

# The same checks as tests/infra/test_aws_infra.py, with the tools' own output. Terraform runs on a copy of
# infra/aws/ so that init leaves no .terraform/ or lock file in the repository.
check-aws-infra: tools-aws
	$(AWS_TOOL_ENV) $(AWS_TOOLS)/sam/bin/sam validate --lint --template template.yaml
	$(AWS_TOOLS)/sam/bin/cfn-lint --include-checks I -- template.yaml
	$(AWS_TOOLS)/checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml
	terraform -chdir=infra/aws fmt -check -diff
	@rm -rf $(TF_AWS_WORK) && mkdir -p $(TF_AWS_WORK) && cp infra/aws/*.tf $(TF_AWS_WORK)/
	@$(AWS_TOOL_ENV) terraform -chdir=$(TF_AWS_WORK) init -backend=false -input=false -plugin-dir=$(TF_PLUGIN_DIR) > /dev/null
	$(AWS_TOOL_ENV) terraform -chdir=$(TF_AWS_WORK) validate
	$(AWS_TOOLS)/checkov/bin/checkov --quiet --compact --skip-download --framework terraform --directory infra/aws

"""The Terraform folders under infra/ share conventions an operator relies on to deploy from the docs alone.

Each folder documents every variable and output, bounds its provider versions in versions.tf, and ships a
terraform.tfvars.example that sets exactly the variables without a default, to values its validations accept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import cast

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.infra.hcl import INFRA, TerraformError, evaluate_locals, load_module

FOLDERS = [INFRA / "aws", INFRA / "gcp", INFRA / "azure"]
_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def _example(folder: Path) -> dict[str, object]:
    with (folder / "terraform.tfvars.example").open(encoding="utf-8") as handle:
        values: dict[str, object] = hcl2.load(handle, serialization_options=_OPTIONS)
    return values


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_example_sets_exactly_the_variables_without_a_default(folder: Path) -> None:
    required = {name for name, body in load_module(folder).variables.items() if "default" not in body}
    assert set(_example(folder)) == required


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_example_values_pass_the_variables_validations(folder: Path) -> None:
    try:
        evaluate_locals(folder, _example(folder), ["tuning_settings"])
    except TerraformError as refused:
        pytest.fail(f"infra/{folder.name}/terraform.tfvars.example is refused: {refused}")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_example_says_what_each_value_is(folder: Path) -> None:
    lines = (folder / "terraform.tfvars.example").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^\w+\s*=", line):
            above = lines[index - 1] if index else ""
            assert above.startswith("#"), f"no comment above {line!r}"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_every_variable_and_output_is_described(folder: Path) -> None:
    module = load_module(folder)
    undescribed = [f"variable {name}" for name, body in module.variables.items() if not body.get("description")]
    undescribed += [f"output {name}" for name, body in module.outputs.items() if not body.get("description")]
    assert undescribed == []


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_versions_tf_pins_terraform_and_bounds_every_provider_above_and_below(folder: Path) -> None:
    with (folder / "versions.tf").open(encoding="utf-8") as handle:
        terraform = hcl2.load(handle, serialization_options=_OPTIONS)["terraform"]
    assert terraform[0]["required_version"].startswith(">=")
    providers = terraform[0]["required_providers"]
    versions = {name: spec["version"] for block in providers for name, spec in block.items()}
    assert versions
    assert all(">=" in version and "<" in version.replace("<=", "") for version in versions.values()), versions
    for path in folder.glob("*.tf"):
        if path.name != "versions.tf":
            assert "required_providers" not in path.read_text(encoding="utf-8"), f"{path.name} declares providers"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_readme_names_every_variable_and_output(folder: Path) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    module = load_module(folder)
    missing = [name for name in [*module.variables, *module.outputs] if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_readme_commands_are_complete_enough_to_paste(folder: Path) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("    ")]
    commands += re.findall(r"`([^`]+)`", readme)
    assert commands
    assert [command for command in commands if "..." in command or "…" in command] == []


def test_aws_readme_names_every_sam_parameter_and_output() -> None:
    template = (INFRA.parent / "template.yaml").read_text(encoding="utf-8")
    sections = re.split(r"^(\w+):\n", template, flags=re.MULTILINE)
    named = {sections[i]: sections[i + 1] for i in range(1, len(sections) - 1, 2)}
    declared = re.findall(r"^  (\w+):\n", named["Parameters"] + named["Outputs"], flags=re.MULTILINE)
    readme = (INFRA / "aws" / "README.md").read_text(encoding="utf-8")
    assert declared
    assert [name for name in declared if f"`{name}`" not in readme] == []


@pytest.mark.parametrize(
    ("cloud", "variable", "value"),
    [
        ("aws", "reserved_concurrency", -2),
        ("aws", "log_retention_days", 31),
        ("gcp", "project", "Acme Prod"),
        ("gcp", "smtp_port", 70000),
        ("gcp", "smtp_password_version", "v2"),
        ("gcp", "max_instances", 0),
        ("azure", "smtp_port", 0),
        ("azure", "eventhub_partition_count", 33),
        ("azure", "eventhub_message_retention_days", 8),
        ("azure", "log_retention_days", 7),
        ("azure", "storage_replication_type", "Premium_LRS"),
    ],
)
def test_a_malformed_value_is_refused_at_plan_naming_its_variable(cloud: str, variable: str, value: object) -> None:
    folder = INFRA / cloud
    with pytest.raises(TerraformError, match=f"{variable}:"):
        evaluate_locals(folder, {**_example(folder), variable: value}, ["tuning_settings"])


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_extra_sinks_follow_the_email_sink_as_the_app_splits_them(cloud: str) -> None:
    from core.alerts.registry import split_uris

    folder = INFRA / cloud
    extra = ["jsonl://-", "webhook://hooks.acme.example/secretwatch?token_env=HOOK_TOKEN"]
    alone = evaluate_locals(folder, _example(folder), ["sinks_uri"])["sinks_uri"]
    both = evaluate_locals(folder, {**_example(folder), "extra_sinks": extra}, ["sinks_uri"])["sinks_uri"]
    assert split_uris(alone) == [alone]
    assert alone.startswith("smtp://")
    assert split_uris(both) == [alone, *extra]


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_extra_sinks_refuse_what_is_not_a_uri(cloud: str) -> None:
    folder = INFRA / cloud
    with pytest.raises(TerraformError, match="extra_sinks:"):
        evaluate_locals(folder, {**_example(folder), "extra_sinks": ["hooks.acme.example"]}, ["sinks_uri"])


# --- the sinks' secrets, by reference ----------------------------------------------------------------------


def _commented_sink_example(folder: Path) -> dict[str, object]:
    """The optional sink settings the example shows commented out: the lines from `# extra_sinks =` on, uncommented."""
    lines = (folder / "terraform.tfvars.example").read_text(encoding="utf-8").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("# extra_sinks = ["))
    values: dict[str, object] = hcl2.loads(
        "\n".join(line.removeprefix("# ") for line in lines[start:]) + "\n", serialization_options=_OPTIONS
    )
    return values


@pytest.mark.parametrize("folder", FOLDERS[1:], ids=lambda folder: folder.name)
def test_example_sink_secrets_pass_the_validations_and_set_every_variable_the_sinks_name(folder: Path) -> None:
    optional = _commented_sink_example(folder)
    values = evaluate_locals(folder, {**_example(folder), **optional}, ["unmounted_sink_env", "sinks_uri"])

    assert {"extra_sinks", "sink_secrets"} <= set(optional)
    assert values["unmounted_sink_env"] == []
    assert values["sinks_uri"].endswith(",".join(cast(list[str], optional["extra_sinks"])))


@pytest.mark.parametrize("folder", FOLDERS[1:], ids=lambda folder: folder.name)
def test_no_secret_value_is_in_the_example_or_a_default(folder: Path) -> None:
    example = (folder / "terraform.tfvars.example").read_text(encoding="utf-8")
    optional = _commented_sink_example(folder)
    sinks = cast(list[str], optional["extra_sinks"])
    references = cast(dict[str, str], optional["sink_secrets"])
    defaults = [json.dumps(body.get("default")) for body in load_module(folder).variables.values()]

    assert "hooks.slack.com" not in example
    assert all("secret_env=" in uri or uri.startswith("env://") for uri in sinks), "each secret is named, not written"
    assert all(value.startswith(("projects/", "https://")) for value in references.values())
    assert not [value for value in defaults if re.search(r"(?i)hooks\.slack\.com|password=|secret=|key=", value)]


@pytest.mark.parametrize("folder", FOLDERS[1:], ids=lambda folder: folder.name)
def test_the_app_opens_the_example_sinks_with_the_variables_sink_secrets_sets(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.alerts.registry import SINKS, open_sink, split_uris

    optional = _commented_sink_example(folder)
    sinks_uri = evaluate_locals(folder, {**_example(folder), **optional}, ["sinks_uri"])["sinks_uri"]
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-password-from-the-store")
    monkeypatch.setenv("WEBHOOK_SIGNING_KEY", "signing-key-from-the-store")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX?format=slack")
    uris = split_uris(sinks_uri)
    direct = [uri for uri in uris if not uri.startswith("env://")]

    labels = [open_sink(uri).label for uri in direct]
    assert labels[1:] == ["webhook:siem.acme.example"]
    if "env" not in SINKS:
        pytest.skip("the app does not resolve env://NAME sink URIs yet (core change proposed with issue 12)")
    assert [open_sink(uri).label for uri in uris if uri.startswith("env://")] == ["webhook:hooks.slack.com"]

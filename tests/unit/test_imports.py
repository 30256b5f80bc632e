"""Cold start: each cloud's entry module imports its own cloud's SDK and no other; the core imports none.

Each check runs a fresh interpreter without SECRETWATCH_* settings, as a new function instance starts, and
looks at the modules the import added (a bare interpreter may already hold empty `google` namespace
packages made by .pth files, which load no SDK).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AWS = {"boto3", "botocore", "aws_lambda_powertools", "s3transfer"}
GCP = {"google", "functions_framework", "cloudevents", "flask", "grpc"}
AZURE = {"azure"}
_PROBE = (
    "import json, sys; before = set(sys.modules); import {module}; print(json.dumps(sorted(set(sys.modules) - before)))"
)


def packages_imported_by(module: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter loads to import `module`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECRETWATCH_")}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # in Lambda the handler builds its pipeline at import
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout)}


def needs(*packages: str) -> pytest.MarkDecorator:
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


@needs("aws_lambda_powertools", "boto3")
def test_the_aws_handler_imports_no_google_or_azure_module() -> None:
    assert packages_imported_by("functions.aws.handler") & (GCP | AZURE) == set()


@needs("functions_framework", "cloudevents")
def test_the_gcp_function_imports_no_aws_or_azure_module() -> None:
    imported = packages_imported_by("functions.gcp.main")
    assert imported & (AWS | AZURE) == set()
    assert "functions_framework" in imported


@needs("azure.functions")
def test_the_azure_function_imports_no_aws_or_google_module() -> None:
    imported = packages_imported_by("functions.azure.function_app")
    assert imported & (AWS | GCP) == set()
    assert "azure" in imported


@pytest.mark.parametrize("module", ["core.pipeline", "core.bootstrap", "core.cli"])
def test_the_core_imports_no_cloud_sdk(module: str) -> None:
    assert packages_imported_by(module) & (AWS | GCP | AZURE) == set()


def modules_imported_by(module: str) -> set[str]:
    """Full names of the modules a fresh interpreter loads to import `module`."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_the_rules_package_holds_data_schema_and_conditions_and_imports_no_layer_above_it() -> None:
    rules = [f"core.rules.{path.stem}" for path in Path(__file__).parents[2].joinpath("core/rules").glob("*.py")]
    imported = modules_imported_by("; import ".join(rules))
    assert {name for name in imported if name.startswith(("core.engine", "core.pipeline", "core.scenarios"))} == set()


@pytest.mark.parametrize(
    ("module", "above_it"),
    [
        ("core.commands", {"core.cli"}),
        ("core.demo.run", {"core.cli", "core.commands"}),
        ("core.terminal", {"core.cli", "core.commands", "core.demo.run"}),
        ("core.inputs", {"core.cli", "core.commands", "core.demo.run"}),
    ],
)
def test_the_command_line_sits_on_top_and_nothing_below_imports_it(module: str, above_it: set[str]) -> None:
    assert modules_imported_by(module) & above_it == set()

"""Read the Terraform under infra/ for tests: parse a folder, evaluate its locals, run fmt and checkov.

No google or azurerm provider can be installed offline, so `terraform validate` cannot run. Instead:
- `load_module` parses every .tf file of a folder with python-hcl2 into one `Module`; expressions stay as
  python-hcl2 writes them, e.g. "${google_pubsub_topic.audit.id}" (build those with `ref`).
- `evaluate_locals` runs Terraform itself on the folder's variables.tf and locals.tf (which must not
  name resources, so no provider is needed) and returns the locals' values.
- `terraform_fmt_check` and `checkov` run the linters on the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"

_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_TERRAFORM_ENV = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}

Body = Mapping[str, Any]


class TerraformError(AssertionError):
    """Terraform refused the configuration; the message is its error output."""


@dataclass(frozen=True, slots=True)
class Module:
    """All .tf files of one folder merged: blocks by type and name, bodies as python-hcl2 serializes them."""

    folder: Path
    resources: Mapping[str, Mapping[str, Body]]
    data: Mapping[str, Mapping[str, Body]]
    variables: Mapping[str, Body]
    locals: Body
    outputs: Mapping[str, Body]

    def resource(self, kind: str, name: str) -> Body:
        try:
            return self.resources[kind][name]
        except KeyError:
            raise AssertionError(f"infra/{self.folder.name} declares no resource {kind}.{name}") from None

    def of_type(self, kind: str) -> Mapping[str, Body]:
        return self.resources.get(kind, {})


def load_module(folder: Path) -> Module:
    merged: dict[str, Any] = {"resource": {}, "data": {}, "variable": {}, "locals": {}, "output": {}}
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            document = hcl2.load(handle, serialization_options=_OPTIONS)
        for section in ("resource", "data"):
            for block in document.get(section, []):
                for kind, named in block.items():
                    merged[section].setdefault(kind, {}).update(named)
        for section in ("variable", "output"):
            for block in document.get(section, []):
                merged[section].update(block)
        for block in document.get("locals", []):
            merged["locals"].update(block)
    return Module(
        folder=folder,
        resources=merged["resource"],
        data=merged["data"],
        variables=merged["variable"],
        locals=merged["locals"],
        outputs=merged["output"],
    )


def ref(address: str) -> str:
    """An expression as python-hcl2 serializes it: ref("var.project") == "${var.project}"."""
    return "${" + address + "}"


def block(body: Body, name: str) -> Body:
    """The one nested block `name` of a body (python-hcl2 gives every nested block as a list)."""
    blocks = body.get(name)
    assert isinstance(blocks, list), f"no {name} block in {body!r}"
    assert len(blocks) == 1, f"expected exactly one {name} block, got {blocks!r}"
    nested: Body = blocks[0]
    return nested


def evaluate_locals(folder: Path, variables: Mapping[str, object], names: Sequence[str]) -> dict[str, Any]:
    """Values of the locals `names` of folder/locals.tf for these variables, computed by Terraform.

    Raises TerraformError when Terraform refuses the variables (a failed validation block, say).
    """
    terraform = _terraform()
    with tempfile.TemporaryDirectory(prefix="tf-locals-") as workdir:
        work = Path(workdir)
        for name in ("variables.tf", "locals.tf"):
            shutil.copy(folder / name, work / name)
        outputs = {name: {"value": f"${{local.{name}}}"} for name in names}
        (work / "outputs.tf.json").write_text(json.dumps({"output": outputs}), encoding="utf-8")
        (work / "terraform.tfvars.json").write_text(json.dumps(dict(variables)), encoding="utf-8")
        _run([terraform, "apply", "-auto-approve", "-no-color"], work)
        values = json.loads(_run([terraform, "output", "-json", "-no-color"], work).stdout)
    return {name: values[name]["value"] for name in names}


def terraform_fmt_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return _completed([_terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color"], folder)


def checkov(folder: Path) -> subprocess.CompletedProcess[str]:
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV.relative_to(REPO)} (the Makefile installs it before tests)")
    command = [str(CHECKOV), "-d", str(folder), "--framework", "terraform", "--skip-download", "--quiet", "--compact"]
    return _completed(command, REPO)


def _terraform() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    return terraform


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = _completed(command, cwd)
    if result.returncode != 0:
        raise TerraformError(result.stderr or result.stdout)
    return result


def _completed(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_TERRAFORM_ENV}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)

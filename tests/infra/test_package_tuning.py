"""A tuning file on each cloud: `make package-CLOUD TUNING=FILE` checks it and bundles it as tuning.yml at the
package root; the deployment's Tuning parameter (SAM) or `tuning` variable (Terraform) names it in
SECRETWATCH_TUNING, which the function resolves against that root at cold start.

The AWS package is built with its pip step left out (the dependencies do not matter here; test_aws_infra.py
builds the whole thing), the Azure one with --remote-build, the GCP upload as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from scripts import package_aws, package_azure, package_gcp
from scripts.bundle import TUNING_NAME
from tests.infra.hcl import INFRA, load_module

REPO = Path(__file__).resolve().parents[2]

TUNING = """\
rules:
  secret-access-denied: {threshold: {count: 7}}
exceptions:
  - rule: secret-access-unusual-user-agent
    reason: the backup job reads secrets with its own client
    expires: 2099-01-31
    when: {field: username, equals: "system:serviceaccount:backup:velero"}
"""
#: Two problems: a count that is not a number, and an exception without its reason.
MALFORMED = """\
rules:
  secret-access-denied: {threshold: {count: ten}}
exceptions:
  - rule: secret-access-unusual-user-agent
    expires: 2099-01-31
    when: {field: username, equals: "system:serviceaccount:backup:velero"}
"""

Builder = Callable[[Path, Path | None], Path]


def build_aws(out: Path, tuning: Path | None) -> Path:
    package_aws.build(out, tuning=tuning)
    return out / "aws"


def build_gcp(out: Path, tuning: Path | None) -> Path:
    argv = ["--out", str(out / "gcp"), "--zip", str(out / "secretwatch-gcp.zip")]
    assert package_gcp.main([*argv, *(["--tuning", str(tuning)] if tuning else [])]) == 0
    return out / "gcp"


def build_azure(out: Path, tuning: Path | None) -> Path:
    package_azure.build(out, remote_build=True, tuning=tuning)
    return out / "azure"


BUILDERS = {"aws": build_aws, "gcp": build_gcp, "azure": build_azure}
ZIPS = {"aws": "secretwatch-aws.zip", "gcp": "secretwatch-gcp.zip", "azure": "secretwatch-azure.zip"}
MAIN = {"aws": package_aws.main, "gcp": package_gcp.main, "azure": package_azure.main}


@pytest.fixture(autouse=True)
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("this test builds no dependencies")

    monkeypatch.setattr(package_aws, "install_dependencies", lambda requirements, target: None)
    monkeypatch.setattr(package_azure, "install_dependencies", refuse)


@pytest.fixture
def tuning(tmp_path: Path) -> Path:
    path = tmp_path / "prod-tuning.yaml"
    path.write_text(TUNING, encoding="utf-8")
    return path


def cold_start_rules(package: Path, env: dict[str, str]) -> dict[str, object]:
    """What the function's cold start (core.config + core.bootstrap) makes of SECRETWATCH_TUNING in `package`."""
    script = (
        "import json, core\n"
        "from core.bootstrap import tuned_rules\n"
        "from core.config import Settings\n"
        "rules = {rule.id: rule for rule in tuned_rules(Settings.from_env().tuning)}\n"
        "print(json.dumps({'core': core.__file__, 'count': rules['secret-access-denied'].threshold.count}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=package, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    assert Path(str(result["core"])).is_relative_to(package), "the package's own core must run"
    return result


@pytest.mark.parametrize("cloud", BUILDERS)
def test_the_package_bundles_the_tuning_file_the_function_then_applies(
    cloud: str, tuning: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "build"
    package = BUILDERS[cloud](out, tuning)

    assert (package / TUNING_NAME).read_text(encoding="utf-8") == TUNING
    with zipfile.ZipFile(out / ZIPS[cloud]) as bundle:
        assert bundle.read(TUNING_NAME).decode() == TUNING
    assert f"bundled as {TUNING_NAME}: deploy with" in capsys.readouterr().out
    assert cold_start_rules(package, {"SECRETWATCH_TUNING": TUNING_NAME})["count"] == 7
    assert cold_start_rules(package, {})["count"] == 20


@pytest.mark.parametrize("cloud", BUILDERS)
def test_without_a_tuning_file_the_package_holds_none(cloud: str, tuning: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    BUILDERS[cloud](out, tuning)
    package = BUILDERS[cloud](out, None)  # a rebuild drops the previous build's tuning file

    assert not (package / TUNING_NAME).exists()
    with zipfile.ZipFile(out / ZIPS[cloud]) as bundle:
        assert TUNING_NAME not in bundle.namelist()


@pytest.mark.parametrize("cloud", BUILDERS)
def test_a_malformed_tuning_file_fails_the_build_naming_file_entry_and_key(
    cloud: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(MALFORMED, encoding="utf-8")
    out = tmp_path / "build"

    assert MAIN[cloud](["--out", str(out / "gcp" if cloud == "gcp" else out), "--tuning", str(bad)]) == 1

    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"package-{cloud}: {bad}: rules.secret-access-denied.threshold.count: expected int, got str",
        f"{bad}: exceptions[0].reason: required",
    ]
    assert not out.exists(), "nothing is built from a refused tuning file"


@pytest.mark.parametrize("cloud", BUILDERS)
def test_a_tuning_file_naming_an_unknown_rule_or_a_missing_file_fails_the_build(
    cloud: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = tmp_path / "unknown.yml"
    unknown.write_text("rules:\n  secret-access-denid: {enabled: false}\n", encoding="utf-8")
    out = ["--out", str(tmp_path / "build")]

    assert MAIN[cloud]([*out, "--tuning", str(unknown)]) == 1
    assert MAIN[cloud]([*out, "--tuning", str(tmp_path / "absent.yml")]) == 1

    unknown_line, absent_line = capsys.readouterr().err.splitlines()
    assert unknown_line.startswith(f"package-{cloud}: {unknown}: rules.secret-access-denid: unknown rule id; known: ")
    assert absent_line == f"package-{cloud}: TUNING={tmp_path / 'absent.yml'}: no such file " + (
        "(a path relative to the repository, or absolute)"
    )


@pytest.mark.parametrize("cloud", BUILDERS)
def test_make_passes_tuning_to_the_packager_only_when_given(cloud: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not on PATH")

    def dry_run(*variables: str) -> str:
        env = {**os.environ, "MAKEFLAGS": ""}
        done = subprocess.run(
            ["make", "-n", "--no-print-directory", f"package-{cloud}", *variables],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (command,) = [line for line in done.stdout.splitlines() if f"scripts.package_{cloud}" in line]
        return command

    assert dry_run("TUNING=tuning/prod.yml").endswith("--tuning tuning/prod.yml")
    assert "--tuning" not in dry_run()


# --- every deployment accepts the same paths ---------------------------------------------------------------

ACCEPTED = ["tuning.yml", "tuning/prod.yaml", "team-a/tuning_v2.yml"]
REFUSED = ["../tuning.yml", "tuning/../../etc.yml", "/etc/tuning.yml", "./tuning.yml", "tuning.json", "tuning.yml.bak"]


def deployment_patterns() -> dict[str, str]:
    """The tuning path pattern of template.yaml and of each infra/CLOUD/variables.tf, as full-match regexes."""
    template = yaml.load((REPO / "template.yaml").read_text(encoding="utf-8"), Loader=_IgnoreTags)
    patterns = {"template.yaml": template["Parameters"]["Tuning"]["AllowedPattern"]}
    for cloud in ("aws", "gcp", "azure"):
        (validation,) = load_module(INFRA / cloud).variables["tuning"]["validation"]
        found = re.search(r'regex\("\^(.*)\$", var\.tuning\)', validation["condition"])
        assert found, validation["condition"]
        patterns[f"infra/{cloud}"] = found[1].replace("\\\\", "\\")
    return patterns


class _IgnoreTags(yaml.SafeLoader):
    pass


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_template_and_every_terraform_variable_accept_the_same_tuning_paths() -> None:
    patterns = deployment_patterns()
    template = patterns.pop("template.yaml")

    assert set(patterns.values()) == {template.removeprefix("|")}
    assert re.fullmatch(template, "")  # empty: no tuning
    for path in ACCEPTED:
        assert re.fullmatch(template, path), path
    for path in REFUSED:
        assert not re.fullmatch(template, path), path

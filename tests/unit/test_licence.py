"""The licence and the credits ship with every build: the wheel and the three function packages.

NOTICE credits each upstream rule the pack ports, by its upstream id, under its own licence.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import package_aws, package_azure, package_gcp

REPO = Path(__file__).resolve().parents[2]
#: md5 of https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_license_is_the_apache_2_text_unchanged() -> None:
    assert hashlib.md5((REPO / "LICENSE").read_bytes(), usedforsecurity=False).hexdigest() == APACHE_2_MD5


def test_notice_credits_every_ported_rule_by_its_upstream_id_and_licence() -> None:
    notice = (REPO / "NOTICE").read_text()
    for rule_file in sorted((REPO / "core" / "rules").glob("*.yml")):
        text = rule_file.read_text().split("\nrunbook:")[0]  # the header and the upstream key, not test data
        rule_id = re.search(r"^id: (\S+)", text, re.MULTILINE)
        assert rule_id is not None
        assert f"-> {rule_id.group(1)}" in notice, f"{rule_file.name} is not credited"
        for upstream_id in re.findall(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", text):
            assert upstream_id in notice, f"{rule_file.name}: {upstream_id} is not credited"
        for panther_id in re.findall(r"\bKubernetes\.[A-Za-z.]*[A-Za-z]", text):
            assert panther_id in notice, f"{rule_file.name}: {panther_id} is not credited"
    assert "Apache License 2.0" in notice
    assert "Elastic License 2.0" in notice


def test_the_gcp_upload_holds_both_at_its_root(tmp_path: Path) -> None:
    package_gcp.assemble(tmp_path / "gcp")

    for name in ("LICENSE", "NOTICE"):
        assert (tmp_path / "gcp" / name).read_bytes() == (REPO / name).read_bytes()


def test_the_aws_package_holds_both_at_its_root(tmp_path: Path) -> None:
    package_aws.copy_sources(REPO, tmp_path)

    for name in ("LICENSE", "NOTICE"):
        assert (tmp_path / name).read_bytes() == (REPO / name).read_bytes()


def test_the_azure_package_holds_both_at_its_root(tmp_path: Path) -> None:
    package_azure.copy_app(REPO, tmp_path)

    for name in ("LICENSE", "NOTICE"):
        assert (tmp_path / name).read_bytes() == (REPO / name).read_bytes()


def test_the_wheel_holds_both(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy2(REPO / name, source / name)
    skipped = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("core", "functions"):
        shutil.copytree(REPO / name, source / name, ignore=skipped)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:  # pip fetches setuptools>=77 for the build from the package index
        pytest.skip(f"pip could not build the wheel (no package index?): {built.stderr.strip()[-200:]}")
    (wheel,) = (tmp_path / "dist").glob("secretwatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = {Path(name).name: name for name in archive.namelist() if ".dist-info/licenses/" in name}
        assert archive.read(names["LICENSE"]) == (REPO / "LICENSE").read_bytes()
        assert archive.read(names["NOTICE"]) == (REPO / "NOTICE").read_bytes()

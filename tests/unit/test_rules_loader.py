"""A malformed rule file is reported with its path and what is wrong; every problem in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import RuleError
from core.rules.loader import BUILTIN_DIR, load_rules

GOOD = (BUILTIN_DIR / "secret_access_denied.yml").read_text()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("type: threshold", "type: thresold"),
            "type: must be one of match, threshold, cardinality, new_terms; got 'thresold'",
        ),
        (("{field: verb, equals: get}", "{field: verbb, equals: get}"), "unknown field 'verbb'"),
        (("{field: verb, equals: get}", "{field: verb, equal: get}"), "give exactly one operator"),
        (("window: 15m", "window: 15 minutes"), "threshold.window: bad duration '15 minutes'"),
        (("count: 20", "count: -1"), "threshold.count: expected int >= 1"),
        (("severity: medium", "severity: urgent"), "severity: must be one of"),
        (('alert_title: "{count}', 'alert_title: "{secret_value}'), "unknown placeholder {secret_value}"),
        (("id: secret-access-denied", "id: secret-access-denied\nowner: me"), "unknown keys ['owner']"),
    ],
)
def test_a_malformed_rule_names_its_file_and_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, "broken.yml", GOOD.replace(old, new, 1))
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_invalid_yaml_is_reported_on_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yml", "id: [unclosed\n")
    with pytest.raises(RuleError, match="not valid YAML") as caught:
        load_rules([path])
    assert "\n" not in str(caught.value)


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", GOOD.replace("severity: medium", "severity: urgent"))
    _write(tmp_path, "b.yml", GOOD.replace("type: threshold", "type: nope"))
    with pytest.raises(RuleError) as caught:
        load_rules([tmp_path])
    assert "a.yml" in str(caught.value)
    assert "b.yml" in str(caught.value)


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", GOOD)
    _write(tmp_path, "b.yml", GOOD)
    with pytest.raises(RuleError, match="already used"):
        load_rules([tmp_path])


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no rule files"):
        load_rules([tmp_path])


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yml")), ids=lambda path: path.name)
def test_a_built_in_rule_file_reads_the_same_through_libyaml_as_through_the_bounded_loader(path: Path) -> None:
    import yaml

    from core.rules import bounded_yaml, loader

    text = path.read_text()

    assert loader._load_yaml(path, text) == bounded_yaml.load(text)
    assert loader._BUILTIN_LOADER is getattr(yaml, "CSafeLoader", None)


def test_a_rule_file_outside_the_package_is_read_with_the_bounds(tmp_path: Path) -> None:
    laughs = tmp_path / "laughs.yml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    pairs = zip("abcd", "bcde", strict=True)
    levels += [f"{key}: &{key} [{', '.join([f'*{previous}'] * 10)}]" for previous, key in pairs]
    laughs.write_text("\n".join(levels) + "\n")

    with pytest.raises(RuleError, match=r"e: expands to more than 100,000 YAML nodes"):
        load_rules([laughs])

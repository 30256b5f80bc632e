"""Find and load rule files; every problem in every file is reported in one pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from core.errors import ConfigError, RuleError
from core.rules import bounded_yaml
from core.rules.schema import Rule, parse_rule
from core.rules.validation import SchemaError

BUILTIN_DIR = Path(__file__).parent
#: The built-in rule files are read by libyaml where PyYAML has it: ten times quicker than the pure-Python parser
#: bounded_yaml needs (a fifth of a second off every start and cold start). They are part of the installed code,
#: so the bounds against hostile YAML, which every other rule file gets, add nothing for them.
_BUILTIN_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
#: The largest rule file read (the built-in ones are under 16 KiB).
MAX_FILE_BYTES = 256 * 1024


def rule_files(paths: Iterable[Path] = ()) -> list[Path]:
    """The given files and the *.yml files inside given directories; the built-in rules when none are given."""
    found: list[Path] = []
    for path in list(paths) or [BUILTIN_DIR]:
        found.extend(sorted(path.glob("*.yml")) if path.is_dir() else [path])
    return found


def load_rule(path: Path) -> Rule:
    try:
        data = _load_yaml(path, read_bounded(path, RuleError))
    except bounded_yaml.YamlBoundError as exc:
        raise RuleError(str(exc), path=str(path)) from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"not valid YAML: {exc}".replace("\n", " "), path=str(path)) from exc
    except ValueError as exc:  # a value YAML cannot convert: a date that does not exist, a 5,000-digit number
        raise RuleError(f"not valid YAML: {str(exc).split(';')[0]}", path=str(path)) from exc
    try:
        return parse_rule(data, str(path))
    except SchemaError as exc:  # one line per problem, each naming the file
        raise RuleError("\n".join(f"{path}: {problem}" for problem in exc.problems)) from exc


def _load_yaml(path: Path, text: str) -> object:
    if _BUILTIN_LOADER is not None and path.resolve().parent == BUILTIN_DIR.resolve():
        return yaml.load(text, Loader=_BUILTIN_LOADER)  # a safe loader (CSafeLoader)
    return bounded_yaml.load(text)


def read_bounded(path: Path, error: Callable[[str], Exception]) -> str:
    """A rule or tuning file's text, refused (as `error`, naming the file) when too large or not UTF-8."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise error(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB, the limit for one rule file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def load_rules(paths: Iterable[Path] = ()) -> list[Rule]:
    """Load every rule, or raise one RuleError listing every malformed file and duplicate id."""
    rules: list[Rule] = []
    problems: list[str] = []
    for path in rule_files(paths):
        try:
            rules.append(load_rule(path))
        except RuleError as exc:
            problems.append(str(exc))
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen:
            problems.append(f"{rule.path}: id {rule.id!r} is already used by {seen[rule.id]}")
        seen[rule.id] = rule.path
    if problems:
        raise RuleError("\n".join(problems))
    if not rules:
        raise RuleError("no rule files (*.yml) found", path=", ".join(str(p) for p in paths) or None)
    return rules


def load_pack(added: Iterable[Path] = (), *, builtin: bool = True) -> list[Rule]:
    """The built-in rules (unless `builtin` is False) plus the rule files and folders `added`."""
    paths = [*([BUILTIN_DIR] if builtin else []), *added]
    if not paths:
        raise ConfigError("no rules to run: --no-builtin-rules needs at least one --rules PATH")
    return load_rules(paths)

"""Convert YAML-loaded data into msgspec Structs, collecting every problem with its path.

msgspec stops at a document's first error, so a Struct is converted field by field (and a list of Structs item
by item): one pass reports every wrong key of a file, each as `tests[3].ExpectedResult: expected bool, got str`.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

#: JSON's words for YAML's values, as a rule author writes them.
_WORDS = {"object": "mapping", "array": "list"}
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r"`([^`]*)`")


class SchemaError(ValueError):
    """Every problem found in one document; str() is one `path: message` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))


class Problems:
    """The problems found so far in one document."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)

    def raise_any(self) -> None:
        if self.items:
            raise SchemaError(self.items)

    def convert(self, value: object, kind: Any, where: str) -> Any:
        """`value` as `kind`, or None after recording every problem found in it."""
        base, metas = _unwrap(kind)
        if _is_struct(base):
            return self._struct(value, base, where)
        if get_origin(base) is list and _is_struct(item := get_args(base)[0]):
            items = self.convert(value, Annotated[list[Any], *metas] if metas else list[Any], where)
            if items is None:
                return None
            converted = [self.convert(element, item, f"{where}[{index}]") for index, element in enumerate(items)]
            return None if any(element is None for element in converted) else converted
        if get_origin(base) is dict and _is_struct(item := get_args(base)[1]):
            if not isinstance(value, Mapping):
                self.add(where, f"expected mapping, got {_kind(value)}")
                return None
            entries = {key: self.convert(element, item, _join(where, str(key))) for key, element in value.items()}
            return None if any(element is None for element in entries.values()) else entries
        if _optional_struct(base) and value is not None:
            return self.convert(value, _optional_struct(base), where)
        try:
            return msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            if get_origin(base) is Literal:
                self.add(where, f"must be one of {', '.join(map(str, get_args(base)))}; got {value!r}")
            else:
                self.add(*describe(exc, where))
            return None

    def _struct(self, value: object, kind: type[msgspec.Struct], where: str) -> Any:
        before = len(self.items)
        values = self.fields(value, kind, where)
        return kind(**values) if values is not None and len(self.items) == before else None

    def fields(self, value: object, kind: type[msgspec.Struct], where: str = "") -> dict[str, Any] | None:
        """The fields of `kind` that convert (defaults for those absent), recording the others' problems; None
        when `value` is not a mapping at all."""
        if not isinstance(value, Mapping):
            self.add(where, f"expected mapping, got {_kind(value)}")
            return None
        fields = {field.encode_name: field for field in msgspec.structs.fields(kind)}
        if unknown := [key for key in value if key not in fields]:
            self.add(where, f"unknown keys {sorted(map(str, unknown))}; allowed: {sorted(fields)}")
        values: dict[str, Any] = {}
        for key, field in fields.items():
            if key not in value:
                if field.required:
                    self.add(_join(where, key), "required")
                elif field.default is msgspec.NODEFAULT:
                    values[field.name] = field.default_factory()
                else:
                    values[field.name] = field.default
                continue
            before = len(self.items)
            converted = self.convert(value[key], field.type, _join(where, key))
            if len(self.items) == before:
                values[field.name] = converted
        return values


def describe(exc: msgspec.ValidationError, where: str) -> tuple[str, str]:
    """msgspec's `Expected `int`, got `str` - at `$.a[0]`` as (`where.a[0]`, `expected int, got str`)."""
    message, _, at = str(exc).partition(" - at `$")
    path = at.rstrip("`")
    missing = re.fullmatch(r"Object missing required field `(.+)`", message)
    if missing:
        return _join(where + path, missing.group(1)), "required"
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", message)
    if unknown:
        return where + path, f"unknown key {unknown.group(1)!r}"
    text = _QUOTED.sub(lambda match: _WORD.sub(_word, match.group(1)), message)
    return (where + path).lstrip("."), text[:1].lower() + text[1:]


def _word(match: re.Match[str]) -> str:
    return _WORDS.get(match.group(), match.group())


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value), type(value).__name__)


def _unwrap(kind: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(kind) is Annotated:
        base, *metas = get_args(kind)
        return base, tuple(metas)
    return kind, ()


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _optional_struct(kind: Any) -> Any:
    """S for `S | None`, else None."""
    if get_origin(kind) not in (Union, types.UnionType):
        return None
    args = [arg for arg in get_args(kind) if arg is not type(None)]
    return args[0] if len(args) == 1 and _is_struct(args[0]) else None

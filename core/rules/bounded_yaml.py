"""A rule file's YAML, loaded at a cost bounded by the file's size.

Anchors and aliases are welcome (a scenario reuses one log as `log: *denied`), but an alias is a reference
that the schema and the condition compiler walk as if it were a copy: ten aliases of ten aliases of ...
("billion laughs") expand exponentially. So the composed node graph is measured before any Python object is
built: the size and depth it expands to, each node counted once per path that reaches it and memoised, so
measuring costs one visit per composed node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Nodes a document may expand to, aliases counted as copies (the built-in rules expand to about 1,200).
MAX_NODES = 100_000
#: Nesting a document may expand to (the built-in rules nest 10 deep).
MAX_DEPTH = 64


class YamlBoundError(ValueError):
    """The document expands beyond a bound; `where` is the top-level key holding the excess, or (top)."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


def load(text: str) -> object:
    """Like yaml.safe_load, but refuses a document expanding beyond MAX_NODES or MAX_DEPTH."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        measure(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _Loader(yaml.SafeLoader):
    """Stops composing past MAX_DEPTH: the composer recurses per level. (The scanner still looks up to 1,024
    characters ahead at a cost growing with the square of the open brackets: "[[[[..." costs about 2 s.)"""

    _depth = 0
    _top_key: Node | None = None

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth == 2 and isinstance(index, Node):  # for a mapping's value PyYAML passes its key node
                self._top_key = index
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise YamlBoundError(_name(self._top_key), f"{_too_deep()} (line {line})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def measure(root: Node) -> None:
    """Raise YamlBoundError when `root` expands beyond the bounds, naming the top-level key that does."""
    meter = _Meter()
    parts = root.value if isinstance(root, MappingNode) else [(None, root)]
    total = 1
    for key, value in parts:
        where = _name(key)
        try:
            key_size, key_depth = meter.expand(key) if key is not None else (0, 0)
            size, depth = meter.expand(value)
        except _CycleError as exc:
            raise YamlBoundError(where, "an alias refers to a node that contains it (infinite expansion)") from exc
        total += key_size + size
        if total > MAX_NODES:
            raise YamlBoundError(
                where,
                f"expands to more than {MAX_NODES:,} YAML nodes (each alias counts as a copy of its anchor); "
                "use fewer aliases",
            )
        if max(key_depth, depth) + 1 > MAX_DEPTH:
            raise YamlBoundError(where, _too_deep())


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _name(key: Node | None) -> str:
    if isinstance(key, ScalarNode) and key.value:
        return key.value if len(key.value) <= 60 else f"{key.value[:57]}..."
    return "(top)"


class _CycleError(Exception):
    pass


@dataclass
class _Meter:
    """Expanded (size, depth) per node, both capped just past the bounds so numbers stay small."""

    known: dict[int, tuple[int, int]] = field(default_factory=dict)
    open: set[int] = field(default_factory=set)

    def expand(self, node: Node) -> tuple[int, int]:
        ident = id(node)
        if ident in self.known:
            return self.known[ident]
        if ident in self.open:
            raise _CycleError
        if isinstance(node, SequenceNode):
            children: list[Node] = node.value
        elif isinstance(node, MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = []
        self.open.add(ident)
        size, depth = 1, 0
        for child in children:
            child_size, child_depth = self.expand(child)
            size, depth = min(size + child_size, MAX_NODES + 1), max(depth, child_depth)
        self.open.discard(ident)
        self.known[ident] = result = (size, min(depth + 1, MAX_DEPTH + 1))
        return result

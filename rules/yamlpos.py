"""Strict YAML loading (syntax errors and duplicate keys carry line/column) and path → line/column lookup."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(ValueError):
    """A document that is not acceptable YAML; carries line and column (1-based) and a message."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.line = line
        self.column = column


def load_strict(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse with SafeLoader semantics, rejecting duplicate keys; return (data, root node), (None, None) if empty."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None or _is_empty(node):  # no content at all, or just "---"
            return None, None
        _check_duplicates(loader, node)
        return loader.construct_document(node), node
    except yaml.MarkedYAMLError as exc:
        raise _from_marked(exc) from exc
    except yaml.reader.ReaderError as exc:
        line, column = _offset_position(text, exc.position)
        raise YamlProblem(f"unacceptable character #x{exc.character:04x}", line, column) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc), None, None) from exc
    finally:
        if loader is not None:
            loader.dispose()


def _position(node_or_mark: yaml.Node | yaml.Mark) -> tuple[int, int]:
    """1-based (line, column) of a node's start or of a mark."""
    mark = node_or_mark.start_mark if isinstance(node_or_mark, yaml.Node) else node_or_mark
    return mark.line + 1, mark.column + 1


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in text."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _from_marked(exc: yaml.MarkedYAMLError) -> YamlProblem:
    """A YamlProblem at the problem mark of a parser/scanner/composer/constructor error."""
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.problem and exc.context:
        where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message = f"{exc.problem} ({exc.context}{where})"
    line, column = _position(mark) if mark is not None else (None, None)
    return YamlProblem(message, line, column)


def _check_duplicates(loader: yaml.SafeLoader, root: yaml.Node) -> None:
    """Raise YamlProblem at the earliest second occurrence of a key in any mapping of the tree."""
    dups = sorted(_duplicates(loader, root), key=lambda pair: pair[0].start_mark.index)
    if dups:
        again, first = dups[0]
        message = f"duplicate key '{again.value}' (first at line {first.start_mark.line + 1})"
        raise YamlProblem(message, *_position(again))


def _duplicates(loader: yaml.SafeLoader, root: yaml.Node) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """(repeated key node, first key node) for every duplicate key, visiting each node once (aliases may recurse)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            firsts: dict[Hashable, yaml.Node] = {}
            for key, value in node.value:
                stack.extend((key, value))
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    identity = loader.construct_object(key)  # the Python key the mapping will get: 1 == 0x1
                    if identity in firsts:
                        yield key, firsts[identity]
                    else:
                        firsts[identity] = key
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def locate(node: yaml.Node | None, path: str | tuple[int | str, ...]) -> tuple[int, int] | None:
    """1-based (line, column) of the node at a dotted path or pydantic loc; the deepest existing node if missing."""
    if node is None:
        return None
    steps, dotted = _steps(path)
    here, report, i = node, node, 0
    while i < len(steps):
        found = _child(here, steps, i, dotted)
        if found is None:
            break
        key, here, i = found
        report = key if key is not None and _is_empty(here) else here
    return _position(report)


def _steps(path: str | tuple[int | str, ...]) -> tuple[list[str], bool]:
    """Path steps as strings, and whether they came from a dotted string (so a key may itself contain dots)."""
    if not isinstance(path, str):
        return [str(step) for step in path], False
    path = path.strip()
    if path in ("", "$"):
        return [], True
    return path.removeprefix("$.").split("."), True


def _child(here: yaml.Node, steps: list[str], i: int, dotted: bool) -> tuple[yaml.Node | None, yaml.Node, int] | None:
    """(key node or None, child node, next step index) for steps[i] under here, or None when there is no such child."""
    if isinstance(here, yaml.SequenceNode):
        step = steps[i]
        if step.isdigit() and int(step) < len(here.value):
            return None, here.value[int(step)], i + 1
        return None
    if not isinstance(here, yaml.MappingNode):
        return None
    for end in range(i + 1, len(steps) + 1 if dotted else i + 2):  # "a.b" may be one key when the path is dotted
        name = ".".join(steps[i:end])
        for key, value in reversed(here.value):  # the last occurrence wins, as in the constructed dict
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return key, value, end
    return None


def _is_empty(node: yaml.Node) -> bool:
    """Whether a value node is an implicit empty null (``key:`` with nothing after it), which has no useful position."""
    return isinstance(node, yaml.ScalarNode) and node.value == "" and node.style is None

"""Readable diff of two handling-rules documents: dotted paths, keyed lists, unified diffs of templates."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from typing import Any, NamedTuple

import yaml

IGNORED_SECTIONS = frozenset({"version"})  # always differs between versions
MAX_VALUE = 120  # rendered values longer than this are truncated (and long strings get a text diff)
_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One difference between two rules documents, at a readable path."""

    section: str  # top-level key, e.g. "routes", "clocks", "templates"
    path: str  # e.g. "clocks.resolution.一般.working_days", "routes[HJBH02 @ chaoyang/三里屯街道].lead"
    kind: str  # "added" | "removed" | "changed"
    old: Any = None  # JSON-able value (None for added)
    new: Any = None  # JSON-able value (None for removed)
    text_diff: str | None = None  # unified diff for changed multi-line (or long) strings


class _Node(NamedTuple):
    """A flattened leaf, or a list item that is added or removed as a whole."""

    path: str
    value: Any
    item: bool
    owners: tuple[str, ...]  # paths of the list items this node lies in


def diff_yaml(old_text: str, new_text: str) -> list[Change]:
    """Diff two rules documents given as YAML text."""
    return diff_documents(_load(old_text), _load(new_text))


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes from `old` to `new`, by section in the new document's order, then by path in document order."""
    sections = [k for k in new if k not in IGNORED_SECTIONS]
    sections += [k for k in old if k not in new and k not in IGNORED_SECTIONS]
    changes: list[Change] = []
    for key in sections:
        changes += _diff_section(str(key), old.get(key, _MISSING), new.get(key, _MISSING))
    return changes


def summary(changes: list[Change]) -> dict[str, int]:
    """Number of changes per section, in the order the sections first appear."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.section] = counts.get(change.section, 0) + 1
    return counts


def render_text(changes: list[Change], old_version: str, new_version: str) -> str:
    """A human-readable report: a header, then the changes grouped by section."""
    noun = "change" if len(changes) == 1 else "changes"
    lines = [f"规则 {old_version} → {new_version}: {len(changes)} {noun}"]
    for section, count in summary(changes).items():
        lines.append(f"{section} ({count})")
        for change in changes:
            if change.section == section:
                lines += _render_change(change)
    return "\n".join(lines) + "\n"


def _load(text: str) -> dict[str, Any]:
    """Parse one rules document; it must be a mapping (an empty text is an empty document)."""
    doc = yaml.safe_load(text)
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ValueError(f"a rules document must be a YAML mapping, not {type(doc).__name__}")
    return doc


def _diff_section(section: str, old: Any, new: Any) -> list[Change]:
    """The changes within one top-level section (either side may be missing)."""
    old_nodes = {} if old is _MISSING else {n.path: n for n in _flatten(old, section, section, ())}
    new_nodes = {} if new is _MISSING else {n.path: n for n in _flatten(new, section, section, ())}
    order = _order(old_nodes, new_nodes)
    both = [(path, old_nodes[path], node) for path, node in new_nodes.items() if path in old_nodes and not node.item]
    found = [_changed(section, path, o.value, n.value) for path, o, n in both if not _same(o.value, n.value)]
    found += _one_sided(section, new_nodes, old_nodes, "added")
    found += _one_sided(section, old_nodes, new_nodes, "removed")
    found.sort(key=lambda change: order[change.path])
    return _drop_emptied(found)


def _flatten(value: Any, path: str, name: str, owners: tuple[str, ...]) -> Iterator[_Node]:
    """Walk mappings to dotted paths and lists of mappings to keyed items; anything else is a leaf."""
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _flatten(sub, f"{path}.{key}", str(key), owners)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for key, item in zip(_item_keys(value, name), value, strict=True):
            item_path = f"{path}[{key}]"
            yield _Node(item_path, item, True, owners)
            if item:
                yield from _flatten(item, item_path, "", (*owners, item_path))
    else:
        yield _Node(path, value, False, owners)


def _item_keys(items: list[dict[str, Any]], name: str) -> list[str]:
    """Keys of a list of mappings: their `code`, the route key for `routes`, else their index."""
    if all("code" in item for item in items):
        keys = [str(item["code"]) for item in items]
    elif name == "routes" and all("category" in item for item in items):
        keys = [_route_key(item) for item in items]
    else:
        return [str(i) for i in range(len(items))]
    seen: dict[str, int] = {}
    for i, key in enumerate(keys):  # duplicates (invalid rules) stay distinct: KEY, KEY#2, …
        seen[key] = seen.get(key, 0) + 1
        keys[i] = key if seen[key] == 1 else f"{key}#{seen[key]}"
    return keys


def _route_key(route: dict[str, Any]) -> str:
    """`category @ district` (district defaults to "*"), plus `/street` when a street is given."""
    key = f"{route['category']} @ {route.get('district') or '*'}"
    return f"{key}/{route['street']}" if route.get("street") else key


def _order(old_nodes: dict[str, _Node], new_nodes: dict[str, _Node]) -> dict[str, tuple[int, int, int]]:
    """Sort keys: new document order; a removed path goes after the nearest preceding path both documents share."""
    order = {path: (i, 0, 0) for i, path in enumerate(new_nodes)}
    anchor = -1
    for j, path in enumerate(old_nodes):
        if path in new_nodes:
            anchor = order[path][0]
        else:
            order[path] = (anchor, 1, j)
    return order


def _one_sided(section: str, these: dict[str, _Node], others: dict[str, _Node], kind: str) -> list[Change]:
    """Nodes only in `these`: an item counts once, with nothing inside it reported separately."""
    found: list[Change] = []
    whole: set[str] = set()
    for path, node in these.items():
        if path in others or whole.intersection(node.owners):
            continue
        if node.item:
            whole.add(path)
        value = _jsonable(node.value)
        old, new = (None, value) if kind == "added" else (value, None)
        found.append(Change(section, path, kind, old, new))
    return found


def _drop_emptied(changes: list[Change]) -> list[Change]:
    """Drop an empty `[]`/`{}` added or removed where the other side has content beneath it (`[]` → items)."""
    opposite = {"added": "removed", "removed": "added", "changed": ""}

    def hollow(c: Change) -> bool:
        return c.kind != "changed" and (c.new if c.kind == "added" else c.old) in ([], {})

    def filled(c: Change) -> bool:
        return any(o.kind == opposite[c.kind] and o.path.startswith((f"{c.path}.", f"{c.path}[")) for o in changes)

    return [c for c in changes if not (hollow(c) and filled(c))]


def _changed(section: str, path: str, old: Any, new: Any) -> Change:
    """A changed leaf, with a unified diff when both sides are multi-line (or long) strings."""
    text_diff = None
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old + new or max(len(old), len(new)) > MAX_VALUE):
        lines = difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=f"{path} (old)", tofile=f"{path} (new)", lineterm=""
        )
        text_diff = "\n".join(lines)
    return Change(section, path, "changed", _jsonable(old), _jsonable(new), text_diff)


def _render_change(change: Change) -> list[str]:
    """The report lines of one change."""
    if change.kind == "added":
        return [f"  + {change.path}: {_compact(change.new)}"]
    if change.kind == "removed":
        return [f"  - {change.path}: {_compact(change.old)}"]
    if change.text_diff is not None:
        return [f"  ~ {change.path}:", *(f"      {line}" for line in change.text_diff.splitlines())]
    return [f"  ~ {change.path}: {_compact(change.old)} → {_compact(change.new)}"]


def _compact(value: Any) -> str:
    """Compact JSON of a value, truncated when very long."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _same(old: Any, new: Any) -> bool:
    """Equal as JSON (so `true` differs from `1`, and `1` from `1.0`)."""
    return json.dumps(_jsonable(old), sort_keys=True) == json.dumps(_jsonable(new), sort_keys=True)


def _jsonable(value: Any) -> Any:
    """A JSON-able copy: dates as ISO strings, mapping keys as strings, anything unknown as its str()."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date | time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)

"""Saving an edited spec as YAML without losing the user's comments and key order.

The wizard edits a `Spec`; the file it came from (a preset or a saved spec) is a ruamel round-trip
document. `merge_spec` writes into that document only the parts whose *validated* value changed, so
a value the user never touched keeps its original spelling (`[null, zero]`, flow style, quotes) and
its comments, and keys equal to their default are not added.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from tui_jail.core.spec import Spec, SpecError, parse_spec, spec_data
from tui_jail.core.yamlio import dump_yaml


def merge_spec(document: Any, spec: Spec) -> CommentedMap:
    """`document` (may be None or invalid) updated in place to describe `spec`; returns it."""
    new_full = spec_data(spec)
    new_sparse = spec_data(spec, exclude_defaults=True)
    if not isinstance(document, CommentedMap):
        built: CommentedMap = _build(new_sparse)
        return built
    try:
        old_full: Any = spec_data(parse_spec(document, allow_placeholders=True))
    except SpecError:
        old_full = None  # nothing to compare against: every key is rewritten
    _merge_map(document, old_full, new_full, new_sparse)
    return document


def spec_yaml(document: Any, spec: Spec) -> str:
    return dump_yaml(merge_spec(document, spec))


def _merge_map(node: CommentedMap, old: Any, new: dict[str, Any], sparse: dict[str, Any]) -> None:
    old = old if isinstance(old, dict) else {}
    for key in list(node):
        if key not in new or new[key] is None:
            del node[key]
    for key, value in new.items():
        if value is None:
            continue
        if key in node:
            if old.get(key) != value:
                node[key] = _merge(node[key], old.get(key), value, sparse.get(key, value))
        elif key in sparse:
            node[key] = _build(sparse[key])


def _merge(node: Any, old: Any, new: Any, sparse: Any) -> Any:
    """The document node for `new`, reusing `node` (and so its comments and style) where it can."""
    if isinstance(new, dict) and isinstance(node, CommentedMap):
        _merge_map(node, old, new, sparse if isinstance(sparse, dict) else new)
        return node
    if isinstance(new, list) and isinstance(node, CommentedSeq):
        _merge_seq(node, old if isinstance(old, list) else [], new, sparse if isinstance(sparse, list) else new)
        return node
    return _build(sparse)


def _merge_seq(node: CommentedSeq, old: list[Any], new: list[Any], sparse: list[Any]) -> None:
    # Items are matched by position: an edit keeps its item's comments, an append or a removal
    # at the end touches nothing else.
    flow = node.fa.flow_style()
    for index, value in enumerate(new):
        item_sparse = sparse[index] if index < len(sparse) else value
        if index >= len(node):
            node.append(_build(item_sparse, flow=_item_flow(node, flow)))
        elif index >= len(old) or old[index] != value:
            node[index] = _merge(node[index], old[index] if index < len(old) else None, value, item_sparse)
    del node[len(new) :]


def _item_flow(node: CommentedSeq, flow: bool) -> bool:
    """New mapping items copy the style of the existing ones (`- {source: …}` or block)."""
    last = node[-1] if len(node) else None
    return last.fa.flow_style() if isinstance(last, CommentedMap) else flow


def _build(value: Any, *, flow: bool = False) -> Any:
    if isinstance(value, dict):
        out = CommentedMap((k, _build(v)) for k, v in value.items())
        if flow:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_build(v) for v in value)
        if all(not isinstance(v, (dict, list)) for v in value):
            seq.fa.set_flow_style()  # short scalar lists read best as [a, b]
        return seq
    return value

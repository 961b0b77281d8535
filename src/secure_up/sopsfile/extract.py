"""The ``--extract`` path syntax of sops: ``["key"][0]["sub"]``."""

from __future__ import annotations

import re
from typing import Final

from secure_up.errors import UsageError
from secure_up.sops.tree import Branch, Comment, Node, Sequence

_COMPONENT: Final = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))\s*\]""")


def parse_path(text: str) -> list[str | int]:
    """``["a"][0]`` -> ``["a", 0]``; a malformed path is a usage error."""
    components: list[str | int] = []
    position = 0
    for match in _COMPONENT.finditer(text):
        if match.start() != position:
            break
        double, single, index = match.groups()
        if index is not None:
            components.append(int(index))
        else:
            raw = double if double is not None else single
            components.append(re.sub(r"\\(.)", r"\1", raw or ""))
        position = match.end()
    if position != len(text) or not components:
        raise UsageError(
            f"cannot read the --extract path {text!r}",
            """write it as sops does, e.g. '["database"]["password"]' or '["hosts"][0]'""",
        )
    return components


def extract_value(document: Branch, path: list[str | int]) -> Node:
    """The value at ``path``; a missing component is a usage error naming it."""
    node: Node = document
    walked = ""
    for component in path:
        walked += f"[{component!r}]" if isinstance(component, int) else f'["{component}"]'
        if isinstance(component, str) and isinstance(node, Branch):
            index = node.index_of(component)
            if index >= 0:
                node = node.get(component)
                continue
        elif isinstance(component, int) and isinstance(node, Sequence):
            elements = [element for element in node if not isinstance(element, Comment)]
            if -len(elements) <= component < len(elements):
                node = elements[component]
                continue
        raise UsageError(
            f"the file has no value at {walked}",
            "check the key names with `secure-up decrypt FILE` (keys are case-sensitive)",
        )
    return node

"""One compose file, read and parsed once per command: its YAML node graph with line numbers.

Planning (``compose``), the preflight's variable analysis (``variables``) and
``renew``/``deploy`` all read the same files; the parse is cached per path and
file identity (size, mtime), so a command parses each file once.

PyYAML is imported here, not by our callers' modules: ``secure-up run -s FILE``
never reads a compose file and is benchmarked against ``sops exec-env``, where
PyYAML's ~13 ms import would count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from secure_up.errors import FormatError, InputFileError

if TYPE_CHECKING:
    import yaml

#: (path, size, mtime_ns) -> the parsed file, for the life of the command.
_PARSED: dict[tuple[str, int, int], yaml.MappingNode] = {}


def load(path: Path) -> yaml.MappingNode:
    """The file as a YAML node graph (values plus line numbers), parsed once."""
    try:
        status = os.stat(path)
    except OSError:
        return _parse(path)  # _read says what is wrong
    key = (str(path.absolute()), status.st_size, status.st_mtime_ns)
    if key not in _PARSED:
        _PARSED[key] = _parse(path)
    return _PARSED[key]


def _parse(path: Path) -> yaml.MappingNode:
    import yaml

    text = read_text(path)
    try:
        # libyaml's parser: some 15 times faster, with the same marks (line numbers).
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        root = _compose_or_explain(path, text)
    if root is None:
        return yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(root, yaml.MappingNode):
        raise FormatError(f"{path}: a compose file must be a mapping", fix="check the file")
    return root


def _compose_or_explain(path: Path, text: str) -> yaml.Node | None:
    """``text`` parsed by PyYAML's own parser, whose words for a problem are the ones we report."""
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        raise FormatError(
            f"{path}, line {line}: not valid YAML ({error.problem})",
            fix="`docker compose config` shows the problem in detail",
        ) from None
    except yaml.YAMLError:
        raise FormatError(f"{path}: not valid YAML", fix="check the file") from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(
            f"cannot read {path}: {error.strerror}", fix="check the path"
        ) from None


def mapping_items(node: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    """The (key, value) pairs of a mapping node, with ``<<`` merge keys expanded."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge" or key.value == "<<":
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in merged:
                yield from mapping_items(source)
        elif isinstance(key, yaml.ScalarNode):
            yield str(key.value), value


def data(path: Path) -> object:
    """The file as plain data (dicts, lists, scalars), built from the cached node graph.

    For readers that want values, not line numbers (``renew``'s block, ``scan``'s
    images); it raises our :class:`FormatError` or :class:`InputFileError`.
    """
    import yaml

    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(load(path))
    except yaml.YAMLError:
        raise FormatError(f"{path}: not valid YAML", fix="check the file") from None
    finally:
        loader.dispose()

"""Which variables the compose files interpolate, where, and how: the preflight's input.

Every ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``... of every
compose file, with file, line, section, service and field, understood as
Compose's template syntax does (``$$`` escapes; defaults nest); and the names the
project's ``.env`` sets. Values never: only names and places.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from secure_up.errors import FormatError
from secure_up.launch.compose_file import load, mapping_items, read_text

if TYPE_CHECKING:
    import yaml

# -- variables the compose files interpolate --------------------------------


class UseKind(enum.Enum):
    """How a ``${VAR...}`` reference treats an unset variable."""

    PLAIN = "plain"  # $VAR, ${VAR}: Compose warns and substitutes ""
    DEFAULT = "default"  # ${VAR:-d}, ${VAR-d}: the default
    REQUIRED = "required"  # ${VAR:?e}, ${VAR?e}: Compose refuses to run
    ALTERNATE = "alternate"  # ${VAR:+x}, ${VAR+x}: "" when unset


class VariableUse(NamedTuple):
    """One place a compose file interpolates a variable.

    ``section`` is the top-level key the use sits under; ``service`` and
    ``field`` are set under ``services.<service>.<field>`` (a use reached through
    a YAML alias counts for every place the alias appears). ``nested`` uses sit
    inside another reference's default, message or alternate. ``active`` is
    false for services that no active profile enables.

    The records of this module are NamedTuples, not frozen dataclasses: those cost
    about 1 ms each to define, at the start of every command that imports this module.
    """

    name: str
    file: Path
    line: int
    section: str
    service: str | None = None
    field: str | None = None
    kind: UseKind = UseKind.PLAIN
    nested: bool = False
    active: bool = True

    @property
    def has_default(self) -> bool:
        return self.kind in (UseKind.DEFAULT, UseKind.ALTERNATE)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def interpolated_variables(
    compose_files: Sequence[Path],
    *,
    profiles: Collection[str] = (),
    targets: Collection[str] = (),
) -> list[VariableUse]:
    """Every variable reference in the compose files, sorted by name and place.

    ``profiles`` are the active profiles (``*`` enables all); services named in
    ``targets`` are active whatever their profiles, as on Compose's command line.
    """
    documents = [(path, load(path)) for path in compose_files]
    active = _active_services(documents, profiles, targets)
    uses: set[VariableUse] = set()
    for path, root in documents:
        uses.update(_UseCollector(path, active).document(root))
    return sorted(uses, key=_use_order)


def _use_order(use: VariableUse) -> tuple[str, str, int, str, str, str]:
    return (use.name, str(use.file), use.line, use.section, use.service or "", use.field or "")


def _active_services(
    documents: Sequence[tuple[Path, yaml.MappingNode]],
    profiles: Collection[str],
    targets: Collection[str],
) -> frozenset[str]:
    """Services that run: no ``profiles``, an active profile, or named as a target."""
    import yaml  # see the module docstring

    service_profiles: dict[str, set[str]] = {}
    for _, root in documents:
        for section, services in mapping_items(root):
            if section != "services":
                continue
            for service, definition in mapping_items(services):
                service_profiles.setdefault(service, set())
                for field, value in mapping_items(definition):
                    if field == "profiles" and isinstance(value, yaml.SequenceNode):
                        service_profiles[service] = {str(item.value) for item in value.value}
    enabled = set(profiles)
    return frozenset(
        service
        for service, own in service_profiles.items()
        if not own or "*" in enabled or own & enabled or service in targets
    )


class _Context(NamedTuple):
    section: str
    service: str | None = None
    field: str | None = None


class _UseCollector:
    """Walks one file's node graph, each (node, context) once (aliases may repeat nodes)."""

    def __init__(self, path: Path, active: frozenset[str]) -> None:
        self.path = path
        self.active = active
        self.seen: set[tuple[int, _Context]] = set()

    def document(self, root: yaml.MappingNode) -> Iterator[VariableUse]:
        for section, value in mapping_items(root):
            if section == "services":
                for service, definition in mapping_items(value):
                    for field, node in mapping_items(definition):
                        yield from self.walk(node, _Context(section, service, field))
            else:
                yield from self.walk(value, _Context(section))

    def walk(self, node: yaml.Node, context: _Context) -> Iterator[VariableUse]:
        import yaml  # see the module docstring

        if (id(node), context) in self.seen:
            return
        self.seen.add((id(node), context))
        if isinstance(node, yaml.ScalarNode):
            yield from self.scalar(node, context)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from self.walk(item, context)
        elif isinstance(node, yaml.MappingNode):
            for _key, value in node.value:  # Compose interpolates values, not keys
                yield from self.walk(value, context)

    def scalar(self, node: yaml.ScalarNode, context: _Context) -> Iterator[VariableUse]:
        text = str(node.value)
        if "$" not in text:
            return
        first_line = node.start_mark.line + 1
        try:
            references = list(scan_template(text))
        except _InvalidTemplate:
            raise FormatError(
                f"{self.path}, line {first_line}: an invalid `${{...}}` reference",
                fix="write ${NAME}, ${NAME:-default} or ${NAME:?message}; `$$` is a literal $",
            ) from None
        for reference in references:
            yield VariableUse(
                name=reference.name,
                file=self.path,
                line=first_line + _line_offset(node, text, reference.offset),
                section=context.section,
                service=context.service,
                field=context.field,
                kind=reference.kind,
                nested=reference.nested,
                active=context.service is None or context.service in self.active,
            )


def _line_offset(node: yaml.ScalarNode, text: str, offset: int) -> int:
    """Lines between a scalar's start and a reference in it, where the text maps to lines.

    A literal block (``|``) keeps its lines and starts below its indicator; other
    styles fold lines, so their references are reported at the scalar's first line.
    """
    if node.style == "|":
        return 1 + text.count("\n", 0, offset)
    return 0


# -- Compose's template syntax ------------------------------------------------

#: Compose-go's template pattern (template/template.go), verbatim in meaning.
_TEMPLATE = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)"
    r"|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
#: Operators in the order Compose tries them, with the kind of use each makes.
_OPERATORS = (
    (":?", UseKind.REQUIRED),
    ("?", UseKind.REQUIRED),
    (":-", UseKind.DEFAULT),
    ("-", UseKind.DEFAULT),
    (":+", UseKind.ALTERNATE),
    ("+", UseKind.ALTERNATE),
)


class _InvalidTemplate(Exception):
    """``${`` not followed by a valid reference (Compose: "Invalid template")."""


class TemplateReference(NamedTuple):
    """One ``$VAR``/``${VAR...}`` in a string; ``offset`` is where its ``$`` is."""

    name: str
    kind: UseKind
    offset: int
    nested: bool = False


def scan_template(text: str, base: int = 0, *, nested: bool = False) -> Iterator[TemplateReference]:
    """The references Compose would resolve in ``text``, nested ones included.

    Mirrors compose-go: ``$$`` is a literal ``$``; a braced reference ends at the
    first balanced ``}``; its default, message or alternate is itself a template
    (Compose v2 resolves it even when unused, so its references count).
    """
    position = 0
    while match := _TEMPLATE.search(text, position):
        if match.group("named"):
            yield TemplateReference(
                match.group("named"), UseKind.PLAIN, base + match.start(), nested
            )
            position = match.end()
        elif match.group("braced") is not None:
            end = match.start() + _closing_brace(text[match.start() : match.end()]) + 1
            yield from _braced(text[match.start() : end], base + match.start(), nested)
            position = end
        elif match.group("escaped"):
            position = match.end()
        else:
            raise _InvalidTemplate


def _braced(reference: str, base: int, nested: bool) -> Iterator[TemplateReference]:
    inner = reference[2:-1]
    name = re.match(r"[_a-zA-Z][_a-zA-Z0-9]*", inner)
    if name is None:
        raise _InvalidTemplate
    operator = next(
        ((symbol, kind) for symbol, kind in _OPERATORS if inner.startswith(symbol, name.end())),
        None,
    )
    if operator is None:
        if name.end() != len(inner):
            raise _InvalidTemplate
        yield TemplateReference(name.group(), UseKind.PLAIN, base, nested)
        return
    symbol, kind = operator
    yield TemplateReference(name.group(), kind, base, nested)
    argument_start = name.end() + len(symbol)
    yield from scan_template(inner[argument_start:], base + 2 + argument_start, nested=True)


def _closing_brace(reference: str) -> int:
    """Index of the ``}`` that closes the reference starting at 0.

    compose-go's count, quirks included (``getFirstBraceClosingIndex``): every
    ``{`` opens, and the character after it is skipped. Unbalanced: the last ``}``.
    """
    depth = 0
    index = 0
    while index < len(reference):
        if reference[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        if reference[index] == "{":
            depth += 1
            index += 1
        index += 1
    return len(reference) - 1


# -- the project's .env -------------------------------------------------------

_DOTENV_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z0-9_.\-\[\]]+)\s*[=:]")


def dotenv_names(project_dir: Path) -> frozenset[str]:
    """Names the project's ``.env`` sets (Compose reads it for interpolation); never values.

    Values are skipped over, quoted ones across lines, so a line inside a
    multi-line value is not mistaken for a key.
    """
    path = project_dir / ".env"
    if not path.is_file():
        return frozenset()
    text = read_text(path)
    names: set[str] = set()
    position = 0
    while position < len(text):
        line_end = _end_of_line(text, position)
        line = text[position:line_end]
        key = _DOTENV_KEY.match(line)
        if key is None or line.lstrip().startswith("#"):
            position = line_end + 1
            continue
        names.add(key.group(1))
        position = _end_of_value(text, position + key.end())
    return frozenset(names)


def _end_of_line(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end == -1 else end


def _end_of_value(text: str, position: int) -> int:
    """Just past the value that starts at ``position`` (after the ``=``)."""
    while position < len(text) and text[position] in " \t":
        position += 1
    quote = text[position] if position < len(text) else ""
    if quote in ("'", '"'):
        index = position + 1
        while index < len(text) and text[index] != quote:
            index += 2 if text[index] == "\\" and quote == '"' else 1
        position = index + 1
    return _end_of_line(text, position) + 1

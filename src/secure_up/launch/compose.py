"""Plan a docker compose run: which command, which files, which secrets, which argv.

Everything here is pure planning over paths, mappings and file contents; nothing
spawns a process (``process.py`` does that: it passes us a ``probe``). The argv we
plan holds paths, names and flags only; secret values travel in the child's
environment, never here.

Compose file lookup follows Compose v2 (compose-go ``cli/options.go``): ``-f``;
else ``COMPOSE_FILE`` split on ``COMPOSE_PATH_SEPARATOR`` (default ``:``); else,
from the working directory upward, the first of :data:`COMPOSE_FILE_NAMES` plus the
first of :data:`OVERRIDE_FILE_NAMES` beside it. We add one fallback,
``deploy/docker-compose.yaml``, so ``secure-up app`` works from a repository root.

PyYAML is imported by the functions that parse, not at the top: ``secure-up run
-s FILE`` never reads a compose file and is benchmarked against ``sops exec-env``,
where PyYAML's ~13 ms import would count.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
import shutil
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from secure_up.errors import FormatError, InputFileError, SecureUpError, UsageError

if TYPE_CHECKING:
    import yaml

#: Compose's main file names, in its order of preference.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
#: Override files Compose adds when they sit beside the main file.
OVERRIDE_FILE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
#: Our fallback, relative to the working directory.
FALLBACK_COMPOSE_FILE = Path("deploy/docker-compose.yaml")
#: The secrets file used when nothing names one, relative to the working directory.
DEFAULT_SECRETS_FILE = Path("secrets/environment.secrets")
#: The compose-file extension field that names secrets files.
EXTENSION_KEY = "x-secure-up"

#: Runs an argv and says whether it exited 0. Supplied by ``process.py``.
Probe = Callable[[Sequence[str]], bool]
#: Finds an executable on PATH, like :func:`shutil.which`.
Which = Callable[[str], str | None]

# A service name as Compose accepts it; refusing others keeps `-x` out of the argv.
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


# -- the compose command ----------------------------------------------------


#: Where the docker CLI looks for plugins after its config directory's ``cli-plugins``
#: (docker/cli ``cli-plugins/manager/manager_unix.go``), in its order.
DOCKER_SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def compose_plugin_installed(
    environ: Mapping[str, str], *, system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS
) -> bool:
    """Whether the docker CLI finds the Compose v2 plugin where it looks by default.

    A file check instead of running ``docker compose version`` (some 60 ms, a third
    of what ``docker compose up -d`` of a running service takes). Plugins in a
    ``cliPluginsExtraDirs`` of the docker config are not seen here: the probe finds them.
    """
    user_config = environ.get("DOCKER_CONFIG") or (
        os.path.join(environ["HOME"], ".docker") if environ.get("HOME") else None
    )
    directories = [str(directory) for directory in system_dirs]
    if user_config:
        directories.insert(0, os.path.join(user_config, "cli-plugins"))
    return any(
        os.access(os.path.join(directory, "docker-compose"), os.X_OK) for directory in directories
    )


def plugin_aware(
    probe: Probe,
    environ: Mapping[str, str],
    *,
    system_dirs: Sequence[str | Path] = DOCKER_SYSTEM_PLUGIN_DIRS,
) -> Probe:
    """``probe``, except that an installed plugin answers ``docker compose version`` at once."""

    def answer(argv: Sequence[str]) -> bool:
        asks_for_plugin = len(argv) == 3 and list(argv[1:]) == ["compose", "version"]
        if (
            asks_for_plugin
            and Path(argv[0]).name == "docker"
            and compose_plugin_installed(environ, system_dirs=system_dirs)
        ):
            return True
        return probe(argv)

    return answer


def find_compose_command(
    environ: Mapping[str, str], *, probe: Probe, which: Which = shutil.which
) -> list[str]:
    """The compose command to run, as an argv prefix.

    ``SECURE_UP_COMPOSE`` (split like a shell would) wins; else the Compose v2
    plugin (``docker compose``, probed with ``docker compose version`` since the
    ``docker`` client exists without it), else v1 ``docker-compose``, else
    ``podman compose``.
    """
    override = environ.get("SECURE_UP_COMPOSE")
    if override is not None:
        return _override_command(override, which)
    docker = which("docker")
    if docker and probe([docker, "compose", "version"]):
        return [docker, "compose"]
    if compose_v1 := which("docker-compose"):
        return [compose_v1]
    podman = which("podman")
    if podman and probe([podman, "compose", "version"]):
        return [podman, "compose"]
    raise SecureUpError(
        "no Docker Compose found: `docker compose` does not answer, "
        "and neither `docker-compose` nor `podman compose` is installed",
        fix="install the Docker Compose plugin (https://docs.docker.com/compose/install/), "
        "or set SECURE_UP_COMPOSE to the compose command",
    )


def _override_command(override: str, which: Which) -> list[str]:
    try:
        argv = shlex.split(override)
    except ValueError:
        raise UsageError(
            "SECURE_UP_COMPOSE is not a valid command line (unbalanced quotes)",
            fix="set it like SECURE_UP_COMPOSE='docker compose'",
        ) from None
    if not argv:
        raise UsageError("SECURE_UP_COMPOSE is empty", fix="unset it, or set it to a command")
    if which(argv[0]) is None:
        raise UsageError(
            f"SECURE_UP_COMPOSE names {argv[0]!r}, which is not an executable on PATH",
            fix="set SECURE_UP_COMPOSE to an installed compose command",
        )
    return argv


# -- compose files ----------------------------------------------------------


def find_compose_files(
    cwd: Path, explicit: Sequence[Path], environ: Mapping[str, str]
) -> list[Path]:
    """The compose files, absolute, in merge order (see the module docstring)."""
    cwd = cwd.absolute()
    if explicit:
        return [_existing(cwd / path, "given with -f") for path in explicit]
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [part for part in environ["COMPOSE_FILE"].split(separator) if part]
        return [_existing(cwd / path, "named by COMPOSE_FILE") for path in paths]
    for directory in (cwd, *cwd.parents):
        if found := _compose_files_in(directory):
            return found
    if (cwd / FALLBACK_COMPOSE_FILE).is_file():
        return [cwd / FALLBACK_COMPOSE_FILE]
    raise InputFileError(
        f"no compose file in {cwd} or above it ({', '.join(COMPOSE_FILE_NAMES)}), "
        f"nor {FALLBACK_COMPOSE_FILE}",
        fix="run secure-up where your compose.yaml is, or name it with -f",
    )


def _compose_files_in(directory: Path) -> list[Path]:
    main = next((directory / n for n in COMPOSE_FILE_NAMES if (directory / n).is_file()), None)
    if main is None:
        return []
    override = next((directory / n for n in OVERRIDE_FILE_NAMES if (directory / n).is_file()), None)
    return [main] if override is None else [main, override]


def _existing(path: Path, origin: str) -> Path:
    from secure_up.system.regular_file import check_regular

    check_regular(path, what=origin)  # says "a FIFO" or "a directory" rather than "missing"
    return path


def project_directory(compose_files: Sequence[Path]) -> Path:
    """Where Compose resolves relative paths and reads ``.env``: the first file's directory."""
    return compose_files[0].parent


# -- secrets files ----------------------------------------------------------


def find_secrets_files(
    explicit: Sequence[Path],
    environ: Mapping[str, str],
    compose_files: Sequence[Path],
    *,
    cwd: Path,
) -> list[Path]:
    """The sops files to decrypt, in order: a name in a later file wins over an earlier one.

    ``-s`` (repeatable); else ``SECURE_UP_SECRETS`` (``:``-separated); else the
    ``x-secure-up: {secrets: [...]}`` field of the compose files (relative to the
    file that names them, in merge order); else ``secrets/environment.secrets``
    if it exists; else none.
    """
    if explicit:
        return [_existing(cwd / path, "given with -s") for path in explicit]
    if environ.get("SECURE_UP_SECRETS"):
        paths = [part for part in environ["SECURE_UP_SECRETS"].split(":") if part]
        return [_existing(cwd / path, "named by SECURE_UP_SECRETS") for path in paths]
    if declared := [path for file in compose_files for path in _declared_secrets(file)]:
        return declared
    default = cwd / DEFAULT_SECRETS_FILE
    return [default] if default.is_file() else []


def declared_secrets_files(compose_files: Sequence[Path]) -> list[Path]:
    """The files ``x-secure-up.secrets`` names, whether they exist or not (``init`` makes them)."""
    return [path for file in compose_files for path in _declared_secrets(file, checked=False)]


def _declared_secrets(compose_file: Path, *, checked: bool = True) -> list[Path]:
    import yaml  # see the module docstring

    extension = dict(_mapping_items(_load_nodes(compose_file))).get(EXTENSION_KEY)
    if extension is None:
        return []
    secrets = dict(_mapping_items(extension)).get("secrets")
    if secrets is None:  # an x-secure-up with other settings only (renew)
        return []
    if not isinstance(secrets, yaml.SequenceNode) or not all(
        isinstance(item, yaml.ScalarNode) and item.value for item in secrets.value
    ):
        raise FormatError(
            f"{compose_file}: {EXTENSION_KEY}.secrets must be a list of file paths",
            fix=f"write it as `{EXTENSION_KEY}: {{secrets: [secrets/environment.secrets]}}`",
        )
    origin = f"listed in {EXTENSION_KEY} of {compose_file}"
    paths = [compose_file.parent / str(item.value) for item in secrets.value]
    return [_existing(path, origin) for path in paths] if checked else paths


# -- the argv ---------------------------------------------------------------


def plan_compose_argv(
    compose_cmd: Sequence[str],
    files: Sequence[Path],
    project_name: str | None,
    args: Sequence[str],
) -> list[str]:
    """``compose -f FILE... [-p NAME] ARGS``; the files are always explicit: Compose reads ours."""
    argv = list(compose_cmd)
    for file in files:
        argv += ["-f", str(file)]
    if project_name:
        argv += ["-p", project_name]
    return argv + list(args)


def plan_up(
    compose_cmd: Sequence[str],
    files: Sequence[Path],
    project_name: str | None,
    services: Sequence[str],
    *,
    attach: bool = False,
) -> list[str]:
    """``compose ... up [-d] SERVICE...``: detached unless ``attach``."""
    for service in services:
        if not _SERVICE_NAME.fullmatch(service):
            raise UsageError(
                f"{service!r} is not a valid service name",
                fix="name services as in the compose file (letters, digits, `_.-`)",
            )
    detach = [] if attach else ["-d"]
    return plan_compose_argv(compose_cmd, files, project_name, ["up", *detach, *services])


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
    documents = [(path, _load_nodes(path)) for path in compose_files]
    active = _active_services(documents, profiles, targets)
    uses: set[VariableUse] = set()
    for path, root in documents:
        uses.update(_UseCollector(path, active).document(root))
    return sorted(uses, key=_use_order)


def _use_order(use: VariableUse) -> tuple[str, str, int, str, str, str]:
    return (use.name, str(use.file), use.line, use.section, use.service or "", use.field or "")


def _load_nodes(path: Path) -> yaml.MappingNode:
    """The file as a YAML node graph: values plus their line numbers."""
    import yaml  # see the module docstring

    text = _read(path)
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
    import yaml  # see the module docstring

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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(
            f"cannot read {path}: {error.strerror}", fix="check the path"
        ) from None


def _mapping_items(node: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    """The (key, value) pairs of a mapping node, with ``<<`` merge keys expanded."""
    import yaml  # see the module docstring

    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge" or key.value == "<<":
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in merged:
                yield from _mapping_items(source)
        elif isinstance(key, yaml.ScalarNode):
            yield str(key.value), value


def _active_services(
    documents: Sequence[tuple[Path, yaml.MappingNode]],
    profiles: Collection[str],
    targets: Collection[str],
) -> frozenset[str]:
    """Services that run: no ``profiles``, an active profile, or named as a target."""
    import yaml  # see the module docstring

    service_profiles: dict[str, set[str]] = {}
    for _, root in documents:
        for section, services in _mapping_items(root):
            if section != "services":
                continue
            for service, definition in _mapping_items(services):
                service_profiles.setdefault(service, set())
                for field, value in _mapping_items(definition):
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
        for section, value in _mapping_items(root):
            if section == "services":
                for service, definition in _mapping_items(value):
                    for field, node in _mapping_items(definition):
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
    text = _read(path)
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

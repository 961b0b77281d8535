"""Compose model + secret values -> a Swarm stack file that holds no value, and secret specs.

Pure: dictionaries in, dictionaries and specs out; no process, no file, no network.

The compose model is what ``docker compose config`` prints when every secret variable is
set to a *placeholder* token (:func:`placeholder_tokens`): Compose merges the files, the
anchors and the defaults for us, and never sees a value. A string holding a token is a
string built from a secret, so the translation knows exactly which entries are secret:

- an ``environment:`` entry holding a token becomes a Swarm secret with the entry's full
  value (the tokens replaced by the values here, in memory), mounted at
  ``/run/secrets/secure-up-env-VAR``; the service's environment keeps no value, and an
  entrypoint *shim* (:data:`SHIM_SCRIPT`, a Swarm config) exports each mounted value and
  execs the image's own entrypoint and command;
- a top-level compose secret with ``environment: VAR`` becomes a Swarm secret with the
  value of VAR, used natively by the services that list it (``*_FILE`` variables and all);
- a token anywhere else (a command, a label, a healthcheck, ...) is an error naming the
  service and the field: never a fallback to clear text.

Every string of the model is in Compose's printed form (each literal ``$`` doubled), which
is also what ``docker stack deploy`` reads, so strings pass through as they are; values
read from an image are escaped the same way.

Versions: a secret is named ``STACK_SERVICE_VAR_<12 hex>``, the hex an HMAC of the value
keyed by a key derived from the secrets files' data keys, so equal values give equal names
(an unchanged deploy creates nothing) and the name lets nobody confirm a guessed value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secure_up.errors import SecureUpError
from secure_up.launch.secret_values import SecretValues

STACK_FILE_VERSION = "3.8"
#: Where the shim is mounted in every task that needs it.
SHIM_PATH = "/secure-up-env.sh"
#: Where each environment entry's secret is mounted (Swarm puts secrets under /run/secrets).
ENV_SECRET_PREFIX = "secure-up-env-"  # noqa: S105 - a file name, not a password
#: Swarm's limit for secret and config names.
MAX_NAME_LENGTH = 64
LABEL_PREFIX = "io.secure-up."
#: ``docker stack rm STACK`` removes what carries this label too.
STACK_NAMESPACE_LABEL = "com.docker.stack.namespace"

# A POSIX sh script, since it must run in any image: reading a file with `cat` inside `$(...)`
# drops trailing newlines, so an `x` is appended and removed again.
SHIM_SCRIPT = """\
#!/bin/sh
# secure-up: export each secret mounted for this task as the environment variable it
# replaces, then run the image's own entrypoint and command in place of this shell.
# Usage: sh /secure-up-env.sh VAR... -- ENTRYPOINT... COMMAND...
set -eu
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    secure_up_value="$(cat "/run/secrets/secure-up-env-$1"; printf x)"
    export "$1=${secure_up_value%x}"
    shift
done
unset secure_up_value
[ "$#" -gt 0 ] && shift
exec "$@"
"""

#: Service fields a version 3.8 stack file takes as Compose prints them.
_PASSED_FIELDS = (
    "image",
    "command",
    "user",
    "working_dir",
    "labels",
    "stop_grace_period",
    "stop_signal",
    "hostname",
    "tmpfs",
    "ulimits",
    "read_only",
    "init",
    "logging",
    "dns",
    "dns_search",
)
#: Fields with no meaning in Swarm: left out, with a note.
_DROPPED_FIELDS = {
    "build": "Swarm does not build: the image is used by name (build and push it first)",
    "depends_on": "Swarm starts services together: they must retry until their peers answer",
    "container_name": "Swarm names containers itself",
    "pull_policy": "Swarm pulls as its nodes need",
    "restart": "mapped to deploy.restart_policy",
    "links": "services reach each other by name on the stack's network",
    "expose": "informational only",
    "profiles": "every service of the files is deployed",
    "platform": "Swarm places tasks by node platform",
}
_HEALTHCHECK_FIELDS = ("test", "interval", "timeout", "retries", "start_period", "disable")
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class TranslationError(SecureUpError):
    """A part of the compose model has no safe Swarm form."""


class SecretText(str):
    """A value on its way to ``docker secret create``: a str whose repr hides it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<secret value hidden>"

    __str__ = __repr__  # str() of it must not print the value either; use text()

    def text(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class ImageConfig:
    """What ``docker image inspect`` says an image runs."""

    entrypoint: tuple[str, ...] = ()
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretSpec:
    """One Swarm secret version to exist: its name, labels and value (hidden in repr)."""

    name: str
    key: str  # the name inside the stack file
    owner: str  # the service (an environment entry) or the compose secret
    variable: str
    version: str
    labels: Mapping[str, str]
    value: SecretText = field(repr=False)


@dataclass(frozen=True)
class ConfigSpec:
    """One Swarm config to exist (the shim, the stack file): no value in it."""

    name: str
    labels: Mapping[str, str]
    content: str = field(repr=False)


@dataclass(frozen=True)
class StackPlan:
    stack: str
    document: Mapping[str, Any]
    secrets: tuple[SecretSpec, ...]
    configs: tuple[ConfigSpec, ...]
    services: tuple[str, ...]
    jobs: tuple[str, ...]
    #: service -> the variables its secrets are built from (for renew's dependents).
    uses: Mapping[str, tuple[str, ...]]
    notes: tuple[str, ...] = ()

    def stack_yaml(self) -> str:
        return render_yaml(self.document)

    def dry_run_yaml(self) -> str:
        """The stack file, each service's secret entries shown as ``<secret VAR v:...>``."""
        document = dict(self.document)
        services = {name: dict(spec) for name, spec in document["services"].items()}
        for secret in self.secrets:
            if secret.owner in services and secret.key.startswith("env_"):
                shown = services[secret.owner].setdefault("x-secure-up-environment", {})
                shown[secret.variable] = f"<secret {secret.variable} v:{secret.version}>"
        document["services"] = services
        return render_yaml(document)


# -- placeholders --------------------------------------------------------------


def placeholder_tokens(secrets: SecretValues, nonce: str) -> dict[str, str]:
    """A token per non-empty secret, for ``docker compose config`` to interpolate instead.

    Letters and digits only, so Compose copies it unchanged; ``nonce`` (random per run)
    keeps it from matching text of the files. An empty value needs no hiding.
    """
    if not re.fullmatch(r"[A-Z0-9]{8,}", nonce):
        raise ValueError("the nonce must be 8 or more upper-case letters or digits")
    return {
        name: f"SECUREUP{nonce}V{index}X"
        for index, name in enumerate(sorted(secrets))
        if secrets[name]
    }


def _tokens_in(text: str, tokens: Mapping[str, str]) -> list[str]:
    return [name for name, token in tokens.items() if token in text]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _strings(item)


def _holds_token(node: Any, tokens: Mapping[str, str]) -> list[str]:
    return sorted({name for text in _strings(node) for name in _tokens_in(text, tokens)})


def _reveal(printed: str, tokens: Mapping[str, str], secrets: SecretValues) -> SecretText:
    """The value a process gets: Compose's `$$` undone, each token replaced by its value."""
    text = printed.replace("$$", "$")
    for name, token in tokens.items():
        text = text.replace(token, secrets[name])
    return SecretText(text)


def _escape(text: str) -> str:
    """A literal string in the form ``docker stack deploy`` reads (it interpolates `$`)."""
    return text.replace("$", "$$")


# -- names and versions ----------------------------------------------------------


def naming_key(data_keys: Sequence[bytes]) -> bytes:
    """The key of the version HMACs, derived from the secrets files' data keys.

    Whoever holds a data key can read the values anyway; whoever does not cannot test
    a guess against a name. Rotating a file's data key renames (and rolls) every secret.
    """
    return hmac.new(b"".join(data_keys), b"secure-up swarm secret names v1", "sha256").digest()


def version_of(key: bytes, stack: str, owner: str, variable: str, value: str) -> str:
    message = "\0".join((stack, owner, variable, value)).encode("utf-8", "surrogateescape")
    return hmac.new(key, message, "sha256").hexdigest()[:12]


def versioned_name(stack: str, owner: str, variable: str, version: str) -> str:
    """``STACK_OWNER_VAR_VERSION``, its readable part shortened to fit Swarm's 64 characters."""
    readable = f"{stack}_{owner}_{variable}"
    return f"{readable[: MAX_NAME_LENGTH - len(version) - 1]}_{version}"


def content_name(stack: str, kind: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return versioned_name(stack, "secure-up", kind, digest)


def labels(stack: str, kind: str, **more: str) -> dict[str, str]:
    found = {
        STACK_NAMESPACE_LABEL: stack,
        f"{LABEL_PREFIX}stack": stack,
        f"{LABEL_PREFIX}kind": kind,
    }
    return found | {
        f"{LABEL_PREFIX}{name.replace('_', '-')}": value for name, value in more.items()
    }


# -- the translation ----------------------------------------------------------------


def jobs_of(model: Mapping[str, Any]) -> set[str]:
    """Services another waits for with ``service_completed_successfully``: one-shot jobs."""
    found = set()
    for spec in (model.get("services") or {}).values():
        depends = spec.get("depends_on") or {}
        if isinstance(depends, Mapping):
            for name, condition in depends.items():
                if (condition or {}).get("condition") == "service_completed_successfully":
                    found.add(name)
    return found


def images_to_inspect(model: Mapping[str, Any], tokens: Mapping[str, str]) -> set[str]:
    """Images whose entrypoint and command the shim must take over (none set in compose)."""
    found = set()
    for spec in (model.get("services") or {}).values():
        environment = spec.get("environment") or {}
        shimmed = any(
            isinstance(value, str) and _tokens_in(value, tokens) for value in environment.values()
        )
        if shimmed and spec.get("entrypoint") is None and spec.get("image"):
            found.add(str(spec["image"]))
    return found


@dataclass
class _Translation:
    stack: str
    model: Mapping[str, Any]
    tokens: Mapping[str, str]
    secrets: SecretValues
    key: bytes
    images: Mapping[str, ImageConfig | None]
    source: str  # the secrets files, for labels
    secret_specs: list[SecretSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    top_secrets: dict[str, Any] = field(default_factory=dict)
    top_configs: dict[str, Any] = field(default_factory=dict)
    configs: list[ConfigSpec] = field(default_factory=list)
    uses_host_network: bool = False
    used_networks: set[str] = field(default_factory=set)

    def fail(self, where: str, what: str, fix: str) -> TranslationError:
        return TranslationError(f"cannot deploy {where} to Swarm: {what}", fix)

    def secret(self, owner: str, variable: str, key: str, value: SecretText) -> SecretSpec:
        version = version_of(self.key, self.stack, owner, variable, value.text())
        spec = SecretSpec(
            name=versioned_name(self.stack, owner, variable, version),
            key=key,
            owner=owner,
            variable=variable,
            version=version,
            labels=labels(
                self.stack, "secret", owner=owner, variable=variable, secrets_file=self.source
            ),
            value=value,
        )
        self.secret_specs.append(spec)
        self.top_secrets[key] = {"external": True, "name": spec.name}
        return spec


def translate(
    stack: str,
    model: Mapping[str, Any],
    tokens: Mapping[str, str],
    secrets: SecretValues,
    key: bytes,
    images: Mapping[str, ImageConfig | None],
    *,
    secrets_source: str = "",
) -> StackPlan:
    """The stack plan for ``model`` (see the module docstring)."""
    if not _NAME.fullmatch(stack):
        raise TranslationError(
            f"{stack!r} is not a valid stack name", "use letters, digits and `_.-`"
        )
    work = _Translation(stack, model, tokens, secrets, key, images, secrets_source)
    _check_top_level(work)
    _compose_secrets(work)
    _compose_configs(work)
    jobs = jobs_of(model)
    services: dict[str, Any] = {}
    for name, spec in sorted((model.get("services") or {}).items()):
        services[name] = _service(work, name, spec, name in jobs)
    document: dict[str, Any] = {"version": STACK_FILE_VERSION, "services": services}
    networks = _networks(work)
    if networks:
        document["networks"] = networks
    if volumes := _volumes(work):
        document["volumes"] = volumes
    if work.top_secrets:
        document["secrets"] = dict(sorted(work.top_secrets.items()))
    if work.top_configs:
        document["configs"] = dict(sorted(work.top_configs.items()))
    return StackPlan(
        stack=stack,
        document=document,
        secrets=tuple(work.secret_specs),
        configs=tuple(work.configs),
        services=tuple(services),
        jobs=tuple(sorted(jobs & set(services))),
        uses=dict(work.uses),
        notes=_grouped(work.notes),
    )


def _grouped(notes: Sequence[str]) -> tuple[str, ...]:
    """``svc: text`` notes with the same text as one line naming every service."""
    services: dict[str, list[str]] = {}
    for note in notes:
        service, _, text = note.partition(": ")
        services.setdefault(text, [])
        if service not in services[text]:
            services[text].append(service)
    return tuple(f"{', '.join(names)}: {text}" for text, names in services.items())


def _check_top_level(work: _Translation) -> None:
    for section, value in work.model.items():
        if section in ("services", "secrets", "configs") or section.startswith("x-"):
            continue
        if names := _holds_token(value, work.tokens):
            raise work.fail(
                f"the top-level `{section}:`",
                f"it is built from the secret(s) {', '.join(names)}",
                "secrets may be used in services' environment: and in top-level secrets: only",
            )


def _compose_configs(work: _Translation) -> None:
    for name, spec in (work.model.get("configs") or {}).items():
        spec = spec or {}
        if spec.get("external"):
            work.top_configs[name] = {"external": True, "name": spec.get("name", name)}
        elif spec.get("file"):
            work.top_configs[name] = {"file": spec["file"]}
        else:
            raise work.fail(
                f"config {name}",
                "Swarm stacks take configs from a file: or external: only",
                "write the content to a file and name it with file:",
            )


def _compose_secrets(work: _Translation) -> None:
    for name, spec in (work.model.get("secrets") or {}).items():
        spec = spec or {}
        if spec.get("external"):
            work.top_secrets[name] = {"external": True, "name": spec.get("name", name)}
        elif spec.get("environment"):
            variable = str(spec["environment"])
            if variable not in work.secrets:
                raise work.fail(
                    f"secret {name}",
                    f"its source, the variable {variable}, is in no secrets file",
                    f"add it with `secure-up set {work.source or 'FILE'} {variable}`",
                )
            value = SecretText(work.secrets[variable])
            work.secret(name, variable, name, value)
        elif spec.get("file"):
            work.top_secrets[name] = {"file": spec["file"]}
        else:
            raise work.fail(
                f"secret {name}", "it has no file:, environment: or external:", "give it one"
            )


def _service(work: _Translation, name: str, spec: Mapping[str, Any], job: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field_name, value in spec.items():
        if field_name != "environment" and field_name not in _DROPPED_FIELDS:
            if secret_names := _holds_token(value, work.tokens):
                raise work.fail(
                    f"service {name}, field {field_name}",
                    f"it is built from the secret(s) {', '.join(secret_names)}, and Swarm "
                    "would show it to anyone who can run `docker service inspect`",
                    "use the secret in environment: (secure-up mounts it as a Swarm secret) "
                    "or as a compose secret read from /run/secrets",
                )
        if field_name in _PASSED_FIELDS:
            out[field_name] = value
        elif field_name in _DROPPED_FIELDS and field_name != "restart":
            work.notes.append(f"{name}: {field_name} ignored ({_DROPPED_FIELDS[field_name]})")
        elif field_name not in _HANDLED_FIELDS:
            work.notes.append(f"{name}: {field_name} is not supported by Swarm stacks; ignored")
    if not spec.get("image"):
        raise work.fail(
            f"service {name}",
            "it has no image: (Swarm cannot build)",
            "give it an image: name, build and push that image first",
        )
    environment, secret_entries = _environment(work, name, spec.get("environment") or {})
    if environment:
        out["environment"] = environment
    if secret_entries or spec.get("secrets"):
        out["secrets"] = [*_service_secrets(work, name, spec.get("secrets") or [])]
    if secret_entries:
        _shim(work, name, spec, out, secret_entries)
    elif spec.get("entrypoint") is not None:
        out["entrypoint"] = spec["entrypoint"]
    if spec.get("configs"):
        out.setdefault("configs", []).extend(spec["configs"])
    host_network = spec.get("network_mode") == "host"
    _service_network(work, name, spec, out)
    if spec.get("extra_hosts"):
        out["extra_hosts"] = _extra_hosts(spec["extra_hosts"])
    if spec.get("healthcheck"):
        out["healthcheck"] = {
            k: v for k, v in spec["healthcheck"].items() if k in _HEALTHCHECK_FIELDS
        }
    if spec.get("volumes"):
        out["volumes"] = [_volume_mount(mount) for mount in spec["volumes"]]
    if spec.get("ports"):
        if host_network:
            work.notes.append(
                f"{name}: ports ignored: on the host network the service listens on the "
                "host's ports itself"
            )
        else:
            out["ports"] = [_port(work, name, port) for port in spec["ports"]]
    out["deploy"] = _deploy(spec, job, host_network)
    return out


_HANDLED_FIELDS = frozenset(
    {
        "environment",
        "secrets",
        "entrypoint",
        "configs",
        "network_mode",
        "networks",
        "extra_hosts",
        "healthcheck",
        "volumes",
        "ports",
        "deploy",
    }
)


def _environment(
    work: _Translation, service: str, environment: Mapping[str, Any]
) -> tuple[dict[str, Any], list[SecretSpec]]:
    kept: dict[str, Any] = {}
    secret_entries = []
    used: set[str] = set()
    for variable, printed in sorted(environment.items()):
        names = _tokens_in(printed, work.tokens) if isinstance(printed, str) else []
        if not names:
            kept[variable] = printed
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise work.fail(
                f"service {service}, environment entry {variable!r}",
                "its name is not one a POSIX shell can export",
                "rename the variable to letters, digits and underscores",
            )
        used.update(names)
        value = _reveal(printed, work.tokens, work.secrets)
        secret_entries.append(work.secret(service, variable, f"env_{service}_{variable}", value))
    if used:
        work.uses[service] = tuple(sorted(used))
    return kept, secret_entries


def _service_secrets(
    work: _Translation, service: str, listed: Iterable[Any]
) -> Iterator[dict[str, Any]]:
    for entry in listed:
        entry = {"source": entry} if isinstance(entry, str) else dict(entry)
        if entry["source"] not in work.top_secrets:
            raise work.fail(
                f"service {service}, field secrets",
                f"it uses the secret {entry['source']}, which the top-level secrets: lacks",
                "declare it under the top-level secrets:",
            )
        # Compose may print numbers as strings; Swarm wants numbers there.
        for number in ("uid", "gid"):
            if number in entry:
                entry[number] = str(entry[number])
        yield entry
        variable = next((s.variable for s in work.secret_specs if s.key == entry["source"]), None)
        if variable:
            work.uses[service] = tuple(sorted({*work.uses.get(service, ()), variable}))


def _shim(
    work: _Translation,
    service: str,
    spec: Mapping[str, Any],
    out: dict[str, Any],
    entries: Sequence[SecretSpec],
) -> None:
    for entry in entries:
        out["secrets"].append({"source": entry.key, "target": ENV_SECRET_PREFIX + entry.variable})
    entrypoint = spec.get("entrypoint")
    command = spec.get("command")
    if entrypoint is None:
        image = work.images.get(str(spec["image"]))
        if image is None:
            raise work.fail(
                f"service {service}, field entrypoint",
                f"secure-up needs the entrypoint and command of the image {spec['image']} to "
                "run them after its shim, and `docker image inspect` does not know the image",
                f"pull the image (`docker pull {spec['image']}`), or set entrypoint: (and "
                "command:) in the compose file",
            )
        entrypoint = [_escape(part) for part in image.entrypoint]
        if command is None:
            command = [_escape(part) for part in image.command]
    if isinstance(entrypoint, str) or isinstance(command, str):
        raise work.fail(
            f"service {service}, field {'entrypoint' if isinstance(entrypoint, str) else 'command'}",  # noqa: E501
            "a string form runs through a shell in Compose, which the shim cannot reproduce",
            "write it as a list",
        )
    if not entrypoint and not command:
        raise work.fail(
            f"service {service}, field command",
            "neither the compose file nor the image says what to run",
            "set command: in the compose file",
        )
    variables = [entry.variable for entry in entries]
    out["entrypoint"] = ["/bin/sh", SHIM_PATH, *variables, "--", *entrypoint]
    out["command"] = list(command or [])
    config_name = content_name(work.stack, "shim", SHIM_SCRIPT)
    if not work.configs:
        work.configs.append(ConfigSpec(config_name, labels(work.stack, "shim"), SHIM_SCRIPT))
        work.top_configs["secure_up_shim"] = {"external": True, "name": config_name}
    out["configs"] = [{"source": "secure_up_shim", "target": SHIM_PATH, "mode": 0o444}]


def _service_network(
    work: _Translation, service: str, spec: Mapping[str, Any], out: dict[str, Any]
) -> None:
    mode = spec.get("network_mode")
    if mode == "host":
        work.uses_host_network = True
        out["networks"] = ["hostnet"]
    elif mode is not None:
        raise work.fail(
            f"service {service}, field network_mode",
            f"Swarm has no network_mode {mode!r}",
            "use the host network (network_mode: host) or networks:",
        )
    elif spec.get("networks"):
        networks = spec["networks"]
        names = list(networks)  # a mapping's keys or a list's items
        work.used_networks.update(names)
        out["networks"] = names


def _networks(work: _Translation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    declared = work.model.get("networks") or {}
    for name in sorted(work.used_networks):
        spec = declared.get(name) or {}
        if spec.get("external"):
            out[name] = {"external": True, "name": spec.get("name", name)}
        else:
            kept = {k: v for k, v in spec.items() if k in ("driver", "driver_opts", "attachable")}
            out[name] = kept
    if work.uses_host_network:
        out["hostnet"] = {"external": True, "name": "host"}
    return out


def _volumes(work: _Translation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in (work.model.get("volumes") or {}).items():
        spec = spec or {}
        if spec.get("external"):
            out[name] = {"external": True, "name": spec.get("name", name)}
        else:
            out[name] = {k: v for k, v in spec.items() if k in ("driver", "driver_opts", "labels")}
    return out


def _volume_mount(mount: Any) -> Any:
    if isinstance(mount, str):
        return mount
    kept = {k: v for k, v in mount.items() if k in ("type", "source", "target", "read_only")}
    if mount.get("type") == "bind" and (mount.get("bind") or {}).get("propagation"):
        kept["bind"] = {"propagation": mount["bind"]["propagation"]}
    if mount.get("type") == "volume" and (mount.get("volume") or {}).get("nocopy"):
        kept["volume"] = {"nocopy": True}
    return kept


def _port(work: _Translation, service: str, port: Any) -> Any:
    if isinstance(port, str | int):
        return port
    if port.get("host_ip"):
        work.notes.append(
            f"{service}: warning: port {port.get('published')} is published on every "
            f"interface of every node: Swarm has no host_ip ({port['host_ip']})"
        )
    out: dict[str, Any] = {"target": int(port["target"])}
    if port.get("published"):
        out["published"] = int(str(port["published"]).split("-")[0])
    out["protocol"] = port.get("protocol", "tcp")
    out["mode"] = port.get("mode", "ingress")
    return out


def _extra_hosts(hosts: Any) -> list[str]:
    if isinstance(hosts, Mapping):
        items = [f"{host}:{address}" for host, address in hosts.items()]
    else:
        items = [str(item).replace("=", ":", 1) for item in hosts]
    return sorted(items)


def _deploy(spec: Mapping[str, Any], job: bool, host_network: bool) -> dict[str, Any]:
    deploy = dict(spec.get("deploy") or {})
    if "restart_policy" not in deploy:
        restart = spec.get("restart")
        if job or restart == "on-failure":
            # A job runs until it succeeds once (its peers may not answer yet), then stays done.
            deploy["restart_policy"] = {"condition": "on-failure", "delay": "3s"}
        else:
            deploy["restart_policy"] = {"condition": "any", "delay": "2s"}
    update = dict(deploy.get("update_config") or {})
    if "order" not in update:
        # A second task beside the first is only safe without shared state or host ports.
        update["order"] = "stop-first" if host_network or spec.get("volumes") else "start-first"
    # A job's task ends by design, which Swarm's update monitor would call a failure.
    update.setdefault("failure_action", "continue" if job else "rollback")
    deploy["update_config"] = update
    return deploy


def render_yaml(document: Mapping[str, Any]) -> str:
    import yaml  # imported where used: the CLI's start-up does not need it

    return yaml.safe_dump(
        _plain(document), sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def _plain(node: Any) -> Any:
    if isinstance(node, SecretText):
        raise TypeError("a secret value must never be rendered")  # never a value in a file
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(item) for item in node]
    return node


# -- pruning ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExistingObject:
    """A secret or config secure-up created for the stack, as Swarm lists it."""

    name: str
    group: str  # versions of one thing share a group: "secret:app:DATABASE_URL"
    created: str  # ISO time; sorts in time order


def to_remove(existing: Iterable[ExistingObject], in_use: set[str], keep: int) -> list[str]:
    """Versions no service uses, except the ``keep`` newest of each group (for a rollback)."""
    groups: dict[str, list[ExistingObject]] = {}
    for item in existing:
        if item.name not in in_use:
            groups.setdefault(item.group, []).append(item)
    removed = []
    for items in groups.values():
        items.sort(key=lambda item: item.created, reverse=True)
        removed += [item.name for item in items[max(keep, 0) :]]
    return sorted(removed)

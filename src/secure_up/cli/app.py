"""The command line: parse, call one function, let errors map to exit codes.

Each command is a thin shell around a function of :mod:`secure_up.commands`;
Typer is imported only when this module is, i.e. when a command needs the full
parser.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from secure_up.commands import crypt as commands
from secure_up.commands import run as run_commands
from secure_up.commands import secrets as secret_commands
from secure_up.sopsfile import FILE_TYPES

USAGE_HELP = """\b
Typical use:
  secure-up init                        a key, .sops.yaml and the secrets file, once
  secure-up app                         bring up service app with its secrets
  secure-up compose -- logs -f app      any compose command, output masked
  secure-up run -- ./manage.py migrate  any program with the secrets
  secure-up check                       what the compose files need, and who sets it
  secure-up doctor                      is this machine ready? what to fix
  secure-up set FILE KEY                change one secret (value from stdin or a prompt)
  secure-up renew DBPASS --generate     a new password in the database, file and services
  secure-up deploy STACK                the same stack on Docker Swarm, values as Swarm secrets
  secure-up scan --history              find the values where they must not be
Run `secure-up COMMAND --help` for a command's options and examples.
"""

EXIT_CODES_HELP = """\b
Exit codes (equal to sops' where they overlap):
  0    success
  1    an error; the message says what happened and what to do
  2    wrong usage, or an input file that is not a readable regular file
  4    the data cannot be written in the output type asked for
  5    .sops.yaml missing, malformed or without a rule for the file
  51   MAC mismatch, no MAC, or a value failed authentication: the file was altered
  64   compose files use variables that are set nowhere
  100  an input file is missing
  126  the program to run is not executable; 127 it was not found
  128  no key could open the file's data key
  200  the file was not modified; 203 the file is already encrypted
  When secure-up runs a program, its exit code is the program's (128+N when
  signal N killed it).
"""


def _examples(*lines: str) -> str:
    """An epilog of example command lines, laid out as written (click rewraps otherwise)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines) + "\n"


app = typer.Typer(
    name="secure-up",
    help=(
        "Bring up a Docker Compose stack with secrets from sops files, decrypted in memory "
        "and handed only to the process that needs them.\n\n"
        "secure-up reads sops files (YAML, JSON, dotenv, INI, binary) natively: the data key "
        "is opened by your age, PGP or AWS KMS key, values are decrypted in memory, and "
        "nothing plaintext touches the disk, your shell or an argv.\n\n"
        + USAGE_HELP
        + "\n"
        + EXIT_CODES_HELP
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


class _Command(TyperCommand):
    """A command whose usage error never echoes an unexpected extra argument.

    An argument too many is often a value typed where none belongs
    (``secure-up set FILE KEY s3cr3t``); click would print it back, into the
    terminal's scrollback and a CI log.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True  # click's own check would quote the arguments
        try:
            rest: list[str] = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            count = (
                "an unexpected extra argument"
                if len(rest) == 1
                else (f"{len(rest)} unexpected extra arguments")
            )
            ctx.fail(
                f"{count} (not shown: it may be a secret). secure-up never takes a secret "
                'value on the command line: pipe it on stdin (printf %s "$VALUE" | '
                "secure-up set FILE KEY), type it at the prompt, or use --generate"
            )
        return rest


#: Every command uses :class:`_Command`.
_command = functools.partial(app.command, cls=_Command)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"secure-up {version('secure-up')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print secure-up's version and exit.",
        ),
    ] = False,
) -> None:
    """Options that come before the command."""


InputType = Annotated[
    Optional[str],  # noqa: UP045 - Typer reads the annotation at run time
    typer.Option(
        "--input-type",
        metavar="TYPE",
        help=f"Format of the input file: {', '.join(FILE_TYPES)}. Default: by suffix "
        "(.yaml/.yml, .json, .env, .ini; anything else is binary).",
        show_default=False,
    ),
]
OutputType = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--output-type",
        metavar="TYPE",
        help="Format of the output. Default: the input format.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--config",
        metavar="FILE",
        help="The .sops.yaml to use (else SOPS_CONFIG, else searched "
        "upward from the current directory).",
        show_default=False,
    ),
]


# -- running things with the secrets -----------------------------------------------------------

SecretsOption = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Option(
        "-s",
        "--secrets",
        metavar="FILE",
        show_default=False,
        help="A sops file whose values go into the environment (repeatable; later files win). "
        "Default: SECURE_UP_SECRETS (colon-separated), else x-secure-up.secrets in the compose "
        "file, else secrets/environment.secrets.",
    ),
]
ComposeFileOption = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Option(
        "-f",
        "--file",
        metavar="COMPOSE_FILE",
        show_default=False,
        help="A compose file (repeatable). Default: COMPOSE_FILE, else compose's own lookup "
        "from the current directory, else deploy/docker-compose.yaml.",
    ),
]
ProjectOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "-p", "--project-name", metavar="NAME", help="The compose project name.", show_default=False
    ),
]
PristineOption = Annotated[
    bool,
    typer.Option(
        "--pristine",
        help="Give the child only PATH, HOME, a short allow-list (locale, terminal, Docker "
        "connection settings) and the secrets, not the rest of your environment.",
    ),
]
NoMaskOption = Annotated[
    bool,
    typer.Option(
        "--no-mask",
        help="Do not replace secret values in the child's output with *****; the child then "
        "runs in place of secure-up (exec).",
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "-v",
        "--verbose",
        help="Say which files, which secrets (names only) and which command are used.",
    ),
]


def _run_options(
    secrets: list[Path] | None,
    file: list[Path] | None,
    project_name: str | None,
    pristine: bool,
    no_mask: bool,
    verbose: bool,
) -> run_commands.RunOptions:
    return run_commands.RunOptions(
        secrets_files=secrets or [],
        compose_files=file or [],
        project_name=project_name,
        pristine=pristine,
        mask=not no_mask,
        verbose=verbose,
    )


@_command(
    epilog=_examples(
        "secure-up app                      # same as: secure-up up app",
        "secure-up up app worker",
        "secure-up up --attach app          # stay in the foreground, Ctrl-C stops it",
        "secure-up -s secrets/prod.env -f deploy/docker-compose.yaml app",
    ),
)
def up(
    services: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            metavar="SERVICE...", help="Services to start (default: all).", show_default=False
        ),
    ] = None,
    attach: Annotated[
        bool, typer.Option("--attach", help="Run in the foreground (no -d).")
    ] = False,
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    project_name: ProjectOption = None,
    pristine: PristineOption = False,
    no_mask: NoMaskOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Start services with their secrets: `docker compose up -d SERVICE...`.

    `secure-up SERVICE...` means the same. The secrets files are decrypted in
    memory; their values reach only the compose process's environment. Before
    anything starts, every variable the compose files interpolate must be set
    (by the secrets, your environment or .env), or nothing runs and one error
    lists them all. Compose's output is masked; its exit code is ours.
    """
    options = _run_options(secrets, file, project_name, pristine, no_mask, verbose)
    raise typer.Exit(run_commands.up(services or [], attach=attach, options=options))


@_command(
    context_settings={"allow_interspersed_args": False},
    epilog=_examples(
        "secure-up compose -- logs -f app",
        "secure-up compose -- ps",
        "secure-up compose -- exec -T db psql -U postgres < script.sql",
        "secure-up compose -- run --rm migrations",
        "secure-up compose -- down -v",
    ),
)
def compose(
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="-- COMPOSE_ARGS...",
            help="The compose command and its options.",
            show_default=False,
        ),
    ],
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    project_name: ProjectOption = None,
    pristine: PristineOption = False,
    no_mask: NoMaskOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run any compose command with the secrets in compose's environment.

    Stdin passes through; signals are forwarded; the exit code is compose's.
    """
    options = _run_options(secrets, file, project_name, pristine, no_mask, verbose)
    raise typer.Exit(run_commands.compose_command(args, options=options))


@_command(
    name="run",
    context_settings={"allow_interspersed_args": False},
    epilog=_examples(
        "secure-up run -- ./manage.py migrate",
        'secure-up run -s secrets/app.env -- sh -c \'psql "$DATABASE_URL" -c "select 1"\'',
        "secure-up run --pristine -- env      # shows only what the child gets (values masked)",
    ),
)
def run_program(
    command: Annotated[
        list[str],
        typer.Argument(
            metavar="-- COMMAND [ARGS...]", help="The program to run.", show_default=False
        ),
    ],
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    pristine: PristineOption = False,
    no_mask: NoMaskOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run any program with the secrets in its environment (`sops exec-env`, done right).

    Values are set in the child's environment only; the binary environment.secrets
    is parsed as `source` would. Output is masked, signals are forwarded once,
    and the exit code is the program's (128+N when signal N killed it).
    """
    options = _run_options(secrets, file, None, pristine, no_mask, verbose)
    raise typer.Exit(run_commands.run(command, options=options))


@_command(
    epilog=_examples(
        "secure-up check",
        "secure-up check --json | jq .missing",
    ),
)
def check(
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """The preflight alone: which variables the compose files need and who sets them.

    Lists every interpolated variable with its source (secrets, environment,
    .env) and services; fails (exit 64) if one is set nowhere; warns about
    secrets no compose file uses, and about secrets placed in a container's
    environment (readable with `docker inspect`), showing the compose
    `secrets:` form that avoids it. Runs nothing.
    """
    options = _run_options(secrets, file, None, False, False, verbose)
    raise typer.Exit(run_commands.check(options=options, json_output=json_output))


# -- diagnosing -----------------------------------------------------------------------------


@_command(
    epilog=_examples(
        "secure-up doctor",
        "secure-up doctor -s secrets/environment.secrets -s secrets/app.yaml",
        "secure-up doctor --json | jq '.[] | select(.ok | not)'",
    ),
)
def doctor(
    secrets: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "-s",
            "--secrets",
            metavar="FILE",
            show_default=False,
            help="A secrets file to check (repeatable). Default: SECURE_UP_SECRETS, else the "
            "compose files' x-secure-up secrets, else secrets/environment.secrets.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {item, ok, detail, fix}.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Check that this machine can run secure-up, and say how to fix what is missing.

    Checks gpg and its agent, which secret keys open which secrets files, the
    compose command and its version, whether a Docker engine answers, and
    which .sops.yaml applies. One line per item: OK, or the problem and the
    fix. With SECURE_UP_GPG_KEY set it checks that key in a throw-away
    keyring. Never asks for a passphrase; every check has a timeout. Exit 0
    when all are OK, else 1.
    """
    from secure_up.commands.doctor import doctor as run_doctor

    raise typer.Exit(
        run_doctor(os.environ, json_output=json_output, secrets_files=secrets or [], config=config)
    )


# -- sops files --------------------------------------------------------------------------------


@_command(
    epilog=_examples(
        "secure-up decrypt secrets/environment.secrets",
        'secure-up decrypt --extract \'["database"]["password"]\' secrets/app.yaml',
        "secure-up decrypt --output-type json secrets/app.yaml | jq .",
    ),
)
def decrypt(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The sops file to decrypt ('-' for stdin).")
    ],
    extract: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--extract",
            metavar="PATH",
            help="""Print only one value, e.g. '["db"]["password"]'.""",
            show_default=False,
        ),
    ] = None,
    input_type: InputType = None,
    output_type: OutputType = None,
    ignore_mac: Annotated[
        bool,
        typer.Option(
            "--ignore-mac",
            help="Decrypt even if the MAC does not match "
            "(the file was altered). Use only to rescue a file you trust.",
        ),
    ] = False,
) -> None:
    """Print the plaintext of a sops file to stdout, like `sops decrypt`.

    Nothing is printed unless the whole file decrypts and its MAC checks out.
    """
    commands.decrypt(
        file, extract=extract, input_type=input_type, output_type=output_type, ignore_mac=ignore_mac
    )


@_command(
    epilog=_examples(
        "secure-up encrypt --pgp 1E2F...9A0B secrets.yaml > secrets.enc.yaml",
        "secure-up encrypt -i secrets/environment.secrets      # recipients from .sops.yaml",
        "secure-up encrypt --encrypted-regex '^(password|token)$' -i config.yaml",
    ),
)
def encrypt(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The plaintext file to encrypt.")],
    pgp: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--pgp",
            metavar="FPR[,FPR...]",
            help="Comma-separated PGP fingerprints to encrypt to. "
            "Default: the matching creation rule of .sops.yaml.",
            show_default=False,
        ),
    ] = None,
    age: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--age",
            metavar="RECIPIENT[,RECIPIENT...]",
            help="Comma-separated age recipients (age1..., or SSH public keys) to encrypt to.",
            show_default=False,
        ),
    ] = None,
    kms: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--kms",
            metavar="ARN[,ARN...]",
            help="Comma-separated AWS KMS key ARNs to encrypt to (ARN+ROLE_ARN to assume a role).",
            show_default=False,
        ),
    ] = None,
    encryption_context: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--encryption-context",
            metavar="KEY:VALUE[,...]",
            help="AWS KMS encryption context for the --kms keys (and the rule's kms keys).",
            show_default=False,
        ),
    ] = None,
    in_place: Annotated[
        bool,
        typer.Option(
            "-i",
            "--in-place",
            help="Replace the file with its encrypted form (atomically), instead of printing it.",
        ),
    ] = False,
    input_type: InputType = None,
    output_type: OutputType = None,
    unencrypted_suffix: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="SUFFIX",
            help="Leave values whose key ends with this in clear text "
            "(default rule: _unencrypted).",
            show_default=False,
        ),
    ] = None,
    encrypted_suffix: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="SUFFIX",
            help="Encrypt only values whose key ends with this.",
            show_default=False,
        ),
    ] = None,
    unencrypted_regex: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="REGEX",
            help="Leave values whose key matches this regex in clear text.",
            show_default=False,
        ),
    ] = None,
    encrypted_regex: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="REGEX",
            help="Encrypt only values whose key matches this regex.",
            show_default=False,
        ),
    ] = None,
    unencrypted_comment_regex: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="REGEX",
            help="Leave values under a comment matching this regex in clear text.",
            show_default=False,
        ),
    ] = None,
    encrypted_comment_regex: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            metavar="REGEX",
            help="Encrypt only values under a comment matching this regex.",
            show_default=False,
        ),
    ] = None,
    mac_only_encrypted: Annotated[
        bool,
        typer.Option(
            "--mac-only-encrypted",
            help="Compute the MAC over encrypted values only, so clear-text "
            "values can be edited without breaking it.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Encrypt a plaintext file with a new data key, like `sops encrypt`.

    Recipients and the encryption rule come from --pgp/--age and the rule options,
    else from the first creation rule of .sops.yaml whose path_regex matches
    the file. At most one encryption rule may be given.
    """
    rules = {
        "unencrypted_suffix": unencrypted_suffix,
        "encrypted_suffix": encrypted_suffix,
        "unencrypted_regex": unencrypted_regex,
        "encrypted_regex": encrypted_regex,
        "unencrypted_comment_regex": unencrypted_comment_regex,
        "encrypted_comment_regex": encrypted_comment_regex,
    }
    commands.encrypt(
        file,
        pgp=pgp,
        age=age,
        in_place=in_place,
        input_type=input_type,
        output_type=output_type,
        rules={kind: value for kind, value in rules.items() if value is not None},
        mac_only_encrypted=mac_only_encrypted,
        config=config,
        kms=kms,
        encryption_context=encryption_context,
    )


@_command(epilog=_examples("secure-up filestatus secrets/environment.secrets"))
def filestatus(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The file to inspect.")],
    input_type: InputType = None,
) -> None:
    """Print {"encrypted": true} or {"encrypted": false}: whether FILE is a sops file.

    Nothing is decrypted; no key is needed.
    """
    commands.filestatus(file, input_type=input_type)


# -- changing secrets ---------------------------------------------------------------------------


@_command(
    name="set",
    epilog=_examples(
        'printf %s "$NEW_PASSWORD" | secure-up set secrets/environment.secrets DBPASS',
        'secure-up set secrets/app.yaml \'["database"]["password"]\'     # asks twice, no echo',
        "secure-up set --generate --length 40 --show secrets/environment.secrets API_TOKEN",
    ),
)
def set_value(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The sops file to change (locked while it is).")
    ],
    key: Annotated[
        str,
        typer.Argument(
            metavar="KEY",
            help="""KEY, or a sops path like '["db"]["password"]' """
            "(missing mappings are created). "
            "In a binary file such as environment.secrets: the variable of its `export KEY=...` "
            "line; in an INI file a plain KEY is in the default section.",
        ),
    ],
    generate: Annotated[
        bool,
        typer.Option(
            "--generate", help="Store a random value from a cryptographic generator instead."
        ),
    ] = False,
    length: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--length", help="Length of a generated value (default 32).", show_default=False
        ),
    ] = None,
    charset: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--charset",
            help="Characters of a generated value: alnum (default), "
            "ascii (printable, no space) or hex.",
            show_default=False,
        ),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Print the generated value once on stdout.")
    ] = False,
    input_type: InputType = None,
) -> None:
    """Set one value, read from stdin when piped, else asked twice on the terminal without echo.

    Never from the command line, where every user could read it in the process list.
    One trailing newline of piped input is dropped (so `echo` works). Other values keep
    their ciphertext, comments and key order stay; the file is replaced atomically.
    """
    secret_commands.set_value(
        file,
        key,
        generate=generate,
        length=length,
        charset=charset,
        show=show,
        input_type=input_type,
    )


@_command(
    epilog=_examples(
        "secure-up unset secrets/environment.secrets OLD_TOKEN",
        'secure-up unset secrets/app.yaml \'["database"]["password"]\'',
    ),
)
def unset(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The sops file to change.")],
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="""KEY or a path like '["db"]["password"]'.""")
    ],
    input_type: InputType = None,
) -> None:
    """Remove one value. A key that is not there is an error: nothing is written."""
    secret_commands.unset_value(file, key, input_type=input_type)


@_command(
    epilog=_examples(
        "secure-up rotate secrets/environment.secrets",
        "secure-up rotate --rm-pgp 1E2F...9A0B secrets/*.yaml        # someone left: lock them out",
        "secure-up rotate --add-pgp 5C6D...7E8F secrets/app.yaml",
    ),
)
def rotate(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="The sops files to rotate.")
    ],
    add_pgp: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--add-pgp", help="Also encrypt to this fingerprint (repeatable).", show_default=False
        ),
    ] = None,
    rm_pgp: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--rm-pgp", help="Stop encrypting to this fingerprint (repeatable).", show_default=False
        ),
    ] = None,
    add_age: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--add-age", help="Also encrypt to this age recipient (repeatable).", show_default=False
        ),
    ] = None,
    rm_age: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--rm-age",
            help="Stop encrypting to this age recipient (repeatable).",
            show_default=False,
        ),
    ] = None,
    add_kms: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--add-kms",
            help="Also encrypt to this AWS KMS key ARN (repeatable).",
            show_default=False,
        ),
    ] = None,
    rm_kms: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--rm-kms",
            help="Stop encrypting to this AWS KMS key ARN (repeatable).",
            show_default=False,
        ),
    ] = None,
    input_type: InputType = None,
) -> None:
    """Give each file a NEW data key and re-encrypt every value with it.

    Do this when a key may have leaked or someone must lose access: whoever kept the
    old data key cannot read values written after a rotate. (To only change who can
    open the file, with the same data key, use `updatekeys`.) Files that also hold
    Cloud keys other than AWS KMS (GCP, Azure, Vault) are refused: secure-up cannot wrap
    the new key for those.
    """
    secret_commands.rotate(
        files,
        add_pgp=add_pgp or [],
        rm_pgp=rm_pgp or [],
        add_kms=add_kms or [],
        rm_kms=rm_kms or [],
        add_age=add_age or [],
        rm_age=rm_age or [],
        input_type=input_type,
    )


@_command(
    epilog=_examples(
        "secure-up updatekeys secrets/                # every sops file a creation rule matches",
        "secure-up updatekeys -y secrets/environment.secrets",
    ),
)
def updatekeys(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Sops files, or directories to search for sops files that a creation rule matches."
        ),
    ],
    yes: Annotated[
        bool,
        typer.Option("-y", "--yes", help="Apply without asking (required without a terminal)."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Sync each file's recipients with .sops.yaml, keeping the SAME data key.

    Shows the change (+added / -removed fingerprints) and asks before writing.
    Not a rotation: a removed recipient who kept a copy of the file (or its data
    key) can still read it, and values do not change. To lock someone out, run
    `secure-up rotate` afterwards. secure-up manages PGP, age and AWS KMS recipients.
    """
    secret_commands.updatekeys(paths, yes=yes, config=config)


@_command(
    epilog=_examples(
        "secure-up edit secrets/environment.secrets",
        "EDITOR='code --wait' secure-up edit secrets/app.yaml",
    ),
)
def edit(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The sops file to edit.")],
    input_type: InputType = None,
) -> None:
    """Edit the plaintext in $SECURE_UP_EDITOR, $EDITOR, vi or nano; encrypt it back on save.

    The plaintext is a 0600 file in a private memory-backed directory, removed when
    the editor closes, crashes, or secure-up is interrupted; the file stays locked
    meanwhile. A syntax error reopens the editor with the message on top. Exit 200
    (as sops) when nothing changed.
    """
    secret_commands.edit(file, input_type=input_type)


@_command(
    epilog=_examples(
        "secure-up renew --generate DBPASS          # database, file and services, one transaction",
        "secure-up renew --dry-run DBPASS           # what it would change",
        "secure-up renew --resume                   # finish one that was interrupted",
        "secure-up renew --abort                    # or put the old value back",
        "secure-up renew --stack wordcount --generate DBPASS   # a stack on Docker Swarm",
    ),
)
def renew(
    keys: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(metavar="KEY...", help="The secrets to renew.", show_default=False),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="A random value from a cryptographic generator.")
    ] = False,
    length: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--length", help="Length of a generated value (32).", show_default=False),
    ] = None,
    charset: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--charset", help="alnum (default), ascii or hex.", show_default=False),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish a renewal that was interrupted.")
    ] = False,
    abort: Annotated[
        bool, typer.Option("--abort", help="Undo an interrupted renewal (before its commit).")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds recreated services get to become healthy."),
    ] = 120.0,
    stack: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--stack",
            metavar="STACK",
            help="A Swarm stack deployed with `secure-up deploy`: exec into its tasks, "
            "then redeploy it.",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        int,
        typer.Option(
            "--keep", metavar="N", help="With --stack: previous versions kept, as for deploy."
        ),
    ] = 1,
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    project_name: ProjectOption = None,
) -> None:
    """Move a secret to a new value everywhere it lives: database, secrets file, services.

    The new value comes from stdin, a prompt (no echo) or --generate, as for `set`.
    The compose file's x-secure-up.renew block says where the secret lives (postgres
    roles, a redis user, an exec hook). The value is applied to the live system with
    the old credentials, tested, written to the file, and the services that use it
    are recreated. A failure before the file is written puts the old value back.
    With --stack, the appliers run in the service's running task on this node and
    the stack is redeployed (new secret versions, services roll, old ones pruned).
    """
    from secure_up.commands.renew import RenewOptions
    from secure_up.commands.renew import renew as run_renew

    options = RenewOptions(
        keys=keys or [],
        secrets_files=secrets or [],
        compose_files=file or [],
        project_name=project_name,
        generate=generate,
        length=length,
        charset=charset,
        dry_run=dry_run,
        json_output=json_output,
        resume=resume,
        abort=abort,
        timeout=timeout,
        stack=stack,
        keep=keep,
    )
    raise typer.Exit(run_renew(options))


# -- deploying to Docker Swarm ----------------------------------------------------------------


@_command(
    epilog=_examples(
        "secure-up deploy wordcount",
        "secure-up deploy wordcount --dry-run",
        "secure-up deploy wordcount -s secrets/prod.env -f deploy/docker-compose.yaml --json",
        "secure-up deploy wordcount --rollback   # the previous stack file and secret versions",
    ),
)
def deploy(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="The Swarm stack name.")],
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Remove secret versions no service uses.")
    ] = True,
    keep: Annotated[
        int, typer.Option("--keep", metavar="N", help="Previous versions kept for a rollback.")
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the translated stack; change nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback",
            help="Redeploy the previous stack file with the secret versions --keep kept; "
            "decrypts nothing.",
        ),
    ] = False,
) -> None:
    """Deploy the compose stack to Docker Swarm with every secret as a Swarm secret.

    Each environment entry built from a secret becomes a versioned Swarm secret,
    exported to the process by a small entrypoint shim: no value is in any spec.
    Changed values roll the services that use them; unused versions are removed
    once the services have converged.
    """
    from secure_up.commands import deploy as deploy_commands

    options = deploy_commands.DeployOptions(
        secrets_files=secrets or [],
        compose_files=file or [],
        prune=prune,
        keep=keep,
        dry_run=dry_run,
        json_output=json_output,
        rollback=rollback,
    )
    raise typer.Exit(deploy_commands.deploy(stack, options))


stack_app = typer.Typer(
    help="Manage stacks deployed with `secure-up deploy`.", no_args_is_help=True
)
app.add_typer(stack_app, name="stack")


@stack_app.command(
    "rm",
    cls=_Command,
    epilog=_examples(
        "secure-up stack rm wordcount          # services, then every secret and config version"
    ),
)
def stack_rm(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="The Swarm stack name.")],
) -> None:
    """Remove the stack's services and every secret and config version secure-up made for it."""
    from secure_up.commands import deploy as deploy_commands

    raise typer.Exit(deploy_commands.stack_rm(stack))


# -- starting a project ------------------------------------------------------------------------


@_command(
    epilog=_examples(
        "secure-up init                        # an age key, .sops.yaml, the secrets file",
        "secure-up init --generate             # random values for every missing variable",
        "secure-up init --pgp 902FED5DD17BE43CD5914F57DC848DC22F246371 --format dotenv",
        "secure-up init --age age1... --pre-commit",
    ),
)
def init(
    file: ComposeFileOption = None,
    age: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--age", metavar="RECIPIENT", help="Encrypt to this existing age key."),
    ] = None,
    pgp: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--pgp", metavar="FINGERPRINT", help="Encrypt to this existing PGP key."),
    ] = None,
    file_format: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="binary (the book's `export K=V` file, default), dotenv, yaml or json.",
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Random values instead of prompts.")
    ] = False,
    length: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--length", help="Length of generated values (32).", show_default=False),
    ] = None,
    charset: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--charset", help="alnum (default), ascii or hex.", show_default=False),
    ] = None,
    pre_commit: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--pre-commit/--no-pre-commit",
            help="Add secure-up's hooks to .pre-commit-config.yaml (asked on a terminal).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set a project up: a key, .sops.yaml and an encrypted secrets file, in one command.

    Creates what is missing and nothing else: an age identity at sops' default place
    (unless --age or --pgp names an existing key, or one is there), `.sops.yaml` with a
    rule for secrets/, and the secrets file holding every variable the compose files
    need that is set nowhere (typed without echo, or --generate'd). Adds .gitignore
    lines for plaintext copies and keys. Run twice, it changes nothing.
    """
    from secure_up.commands import init as init_command
    from secure_up.errors import UsageError

    if file_format not in (None, "binary", "dotenv", "yaml", "json"):
        raise UsageError(f"unknown --format {file_format!r}", "use binary, dotenv, yaml or json")
    options = init_command.InitOptions(
        compose_files=file or [],
        age=age,
        pgp=pgp,
        file_format=file_format,  # type: ignore[arg-type]
        generate=generate,
        length=length,
        charset=charset,
        pre_commit=pre_commit,
    )
    raise typer.Exit(init_command.init(options))


# -- guard rails: scan and audit --------------------------------------------------------------


@_command(
    epilog=_examples(
        "secure-up scan                         # the working tree (git's files)",
        "secure-up scan --history --images --containers",
        "secure-up scan --sarif > scan.sarif    # for code scanning",
        "secure-up scan --no-values FILE...     # are covered files encrypted? (no key)",
    ),
)
def scan(
    paths: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Argument(
            metavar="PATH...", help="Files or directories (default: .).", show_default=False
        ),
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="Every blob in git history.")] = False,
    images: Annotated[
        bool, typer.Option("--images", help="Layers and config of the compose files' images.")
    ] = False,
    containers: Annotated[
        bool, typer.Option("--containers", help="docker inspect of the project's containers.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    sarif: Annotated[bool, typer.Option("--sarif", help="Print SARIF 2.1.0.")] = False,
    no_values: Annotated[
        bool,
        typer.Option(
            "--no-values",
            help="Only check that files a .sops.yaml creation rule covers are encrypted; "
            "decrypts nothing and needs no key.",
        ),
    ] = False,
    max_size: Annotated[
        int, typer.Option("--max-size", metavar="MIB", help="Skip files larger than this.")
    ] = 100,
    secrets: SecretsOption = None,
    file: ComposeFileOption = None,
    project_name: ProjectOption = None,
    config: ConfigOption = None,
) -> None:
    """Search for the secrets' values where they do not belong; exit 1 if any is found.

    Decrypts the secrets files in memory and looks for every value of 4 or more
    characters, plain, base64, URL-encoded or JSON-escaped, in the working tree
    (respecting .gitignore) and optionally git history, images and containers.
    Also reports files a .sops.yaml creation rule covers that are not encrypted.
    Findings name the place and the variable, never the value.
    """
    from secure_up.commands import scan as scan_commands

    options = scan_commands.ScanOptions(
        paths=paths or [],
        history=history,
        images=images,
        containers=containers,
        output="sarif" if sarif else "json" if json_output else "table",
        secrets_files=secrets or [],
        compose_files=file or [],
        project_name=project_name,
        config=config,
        max_size=max_size * 1024 * 1024,
        values=not no_values,
    )
    raise typer.Exit(scan_commands.scan(options))


audit_app = typer.Typer(
    help="The audit trail: who decrypted or changed which secrets, when (never a value).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@audit_app.command(
    "verify",
    cls=_Command,
    epilog=_examples(
        "secure-up audit verify                               # the default log",
        "SECURE_UP_AUDIT_LOG=/var/log/secure-up.log secure-up audit verify",
    ),
)
def audit_verify() -> None:
    """Check the hash chain of the audit log; exit 1 naming the first broken line."""
    from secure_up.commands import audit as audit_commands

    raise typer.Exit(audit_commands.verify())


@audit_app.command(
    "show",
    cls=_Command,
    epilog=_examples(
        "secure-up audit show                  # every line, as a table",
        "secure-up audit show --since 2026-12-01 --json",
    ),
)
def audit_show(
    since: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--since", metavar="WHEN", help="ISO date/time, or e.g. 2h, 3d, 1w."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Print the audit log as a table."""
    from secure_up.commands import audit as audit_commands

    raise typer.Exit(audit_commands.show(since=since, json_output=json_output))

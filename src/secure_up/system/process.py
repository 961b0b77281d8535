"""The only module that spawns or execs a child, and the only one that builds its environment.

Decrypted values reach the child through its environment and nowhere else:
never through an argv (callers build the argv from names only; nothing here
adds to it), never through our own ``os.environ``.

Two ways to run the child:

- :func:`exec_child` replaces this process with the child (``execvpe``): nothing
  of ours stays in memory, and exit codes, signals and the terminal are the
  child's without any relaying. Used whenever no output has to be masked.
- :func:`run_child` spawns the child and stays as its parent to mask its
  output: each of its stdout/stderr goes through a pipe, or through a pty of
  its own when ours is a terminal (so colours and progress bars still work),
  then through a :class:`~secure_up.launch.masking.Masker` to our stdout/stderr. Its
  stdin is ours, so ``secure-up compose -- exec -T db psql < dump.sql`` works.
  Signals are relayed (see :data:`FORWARDED_SIGNALS` and :func:`run_child`) and
  the exit status is the child's, ``128 + N`` when signal N killed it.

Under GitHub Actions, and only when asked (``SECURE_UP_GITHUB_MASK=1``),
:func:`announce_to_github_actions` registers each value with the runner's log
masker first, on stderr, and only when stderr is a pipe (never a file).

Two helpers run programs that see no secret at all: :func:`run_editor` (the
user's editor on a plaintext file, for ``edit``) and :func:`capture` (doctor's
probes). gpg is the exception to "the only module": the key subsystem runs its
own tool in ``keys/``.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import selectors
import signal
import stat
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO, NoReturn

from secure_up.errors import ExitCode, SecureUpError
from secure_up.launch.masking import MIN_LENGTH, Masker, value_lines
from secure_up.launch.secret_values import SecretValues
from secure_up.system.hardening import harden_process, prctl_call, restore_core_limit

#: What a pristine environment keeps of ours: enough to find programs, reach the
#: Docker engine (socket paths, contexts, TLS, ssh:// hosts through the agent)
#: and print text as the user expects. Everything else is left behind so that
#: no stray variable of the caller's shell fills a ``${VAR}`` in a compose file.
#: Proxy settings are left behind too (they may carry credentials).
PRISTINE_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TERM",
        "COLORTERM",
        "NO_COLOR",
        "TZ",
        "TMPDIR",
        "XDG_RUNTIME_DIR",  # rootless Docker's socket lives there
        "SSH_AUTH_SOCK",  # DOCKER_HOST=ssh://... and `build --ssh` use the agent
        "DOCKER_HOST",
        "DOCKER_CONFIG",
        "DOCKER_CONTEXT",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
    }
)
#: Name prefixes a pristine environment keeps: locale and Compose's own settings.
PRISTINE_PREFIXES = ("LC_", "COMPOSE_")

#: Relayed to the child as they come. SIGINT is handled apart (see run_child).
FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)

_Handler = Callable[[int, FrameType | None], None]

_READ_SIZE = 65536
#: How often we look whether the child has exited while its output is open.
_POLL_SECONDS = 0.25
#: How long a child may stay quiet before the few bytes the masker holds back
#: (a possible start of a value) are printed: a prompt or a progress bar shows
#: without waiting for the next line.
_IDLE_SECONDS = 0.1
#: After the child exited, how long its output may stay silent before we stop
#: reading (a grandchild it left behind may hold the pipe open forever).
_LINGER_SECONDS = 1.0


class ChildStartError(SecureUpError):
    """The program to run could not be started (not found, not executable)."""


class ChildEnvironment(dict[str, str]):
    """The child's environment: a plain ``dict`` whose ``repr`` hides values.

    It holds decrypted values, so a stray log line or a failed assertion must not print it.
    """

    def __repr__(self) -> str:
        return f"ChildEnvironment(names={sorted(self)!r}, values=<hidden>)"

    __str__ = __repr__


def child_environment(
    base: Mapping[str, str], secrets: SecretValues, *, pristine: bool
) -> ChildEnvironment:
    """``base`` (all of it, or only :data:`PRISTINE_NAMES`) plus ``secrets``, which win.

    Pure: reads ``base``, never ``os.environ``, and changes neither.
    """
    kept = {name: value for name, value in base.items() if not pristine or _is_pristine(name)}
    for name in secrets:
        _check_environment_entry(name, secrets)
    return ChildEnvironment({**kept, **secrets})


def _is_pristine(name: str) -> bool:
    return name in PRISTINE_NAMES or name.startswith(PRISTINE_PREFIXES)


def _check_environment_entry(name: str, secrets: SecretValues) -> None:
    """Refuse what an environment cannot carry, naming the key (never the value)."""
    origin = secrets.origin(name) or "the secrets"
    if not name or "=" in name or "\0" in name:
        raise ChildStartError(
            f"{name!r} in {origin} cannot be an environment variable name",
            fix="rename the key to letters, digits and underscores",
        )
    if "\0" in secrets[name]:
        raise ChildStartError(
            f"the value of {name} in {origin} contains a NUL character, "
            "which an environment variable cannot hold",
            fix=f"remove the NUL character from {name}, or store the value base64-encoded",
        )


def add_mask_commands(values: Iterable[str]) -> bytes:
    """GitHub Actions ``::add-mask::`` workflow commands for ``values``, one per line.

    A multi-line value is also registered line by line: the runner masks its log
    a line at a time. Values (and lines) shorter than :data:`MIN_LENGTH` are
    skipped, as the masker skips them.
    """
    registered: dict[str, None] = {}  # ordered, without repeats
    for value in values:
        registered.update(dict.fromkeys([value, *value_lines(value)]))
    lines = [
        f"::add-mask::{_github_escape(text)}\n"
        for text in registered
        if len(text.encode("utf-8", "surrogateescape")) >= MIN_LENGTH
    ]
    return "".join(lines).encode("utf-8", "surrogateescape")


def _github_escape(text: str) -> str:
    """Escape command data the way the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


#: Opt-in for ``::add-mask::``: printing values is safe only where the runner reads them.
GITHUB_MASK_VARIABLE = "SECURE_UP_GITHUB_MASK"


def announce_to_github_actions(
    base: Mapping[str, str], secrets: SecretValues, *, opted_in: bool, out: int = 2
) -> bool:
    """Register the values with GitHub's log masker (``::add-mask::``), when it is safe.

    This is the one place a value is ever printed, in GitHub's own protocol, so
    the runner hides it in the job log. Only when asked (``opted_in``: the user
    set ``SECURE_UP_GITHUB_MASK=1``) under ``GITHUB_ACTIONS=true`` (in ``base``), and
    only onto ``out`` (our stderr: the runner reads workflow commands there too,
    and ``V=$(...)`` or ``> build.log`` capture stdout) when it is a pipe or a
    socket, as the runner's is: never a regular file, a terminal or anything
    else someone may keep. Returns whether it printed.
    """
    if base.get("GITHUB_ACTIONS") != "true" or not opted_in:
        return False
    try:
        mode = os.fstat(out).st_mode
    except OSError:
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        print(
            f"secure-up: {GITHUB_MASK_VARIABLE}=1 but stderr is not the runner's pipe; "
            "values are not registered with ::add-mask::",
            file=sys.stderr,
        )
        return False
    sys.stderr.flush()  # keep anything we printed before in order
    _write_all(out, add_mask_commands(secrets.values()))
    return True


def launch(
    argv: Sequence[str],
    base: Mapping[str, str],
    secrets: SecretValues,
    *,
    pristine: bool,
    mask: bool,
    github_mask: bool = False,
) -> int:
    """Run ``argv`` with ``secrets`` in its environment: the one call the CLI makes.

    ``github_mask``: the user asked for ``::add-mask::`` (see :func:`announce_to_github_actions`).

    Execs the child (never returns) unless ``mask`` asks for masking and some
    value is long enough to mask; then runs it and returns its exit status.
    """
    env = child_environment(base, secrets, pristine=pristine)
    announce_to_github_actions(base, secrets, opted_in=github_mask)
    masker = Masker(secrets.values()) if mask else None
    if masker is None or not masker.active:
        exec_child(argv, env)
    return run_child(argv, env, mask=masker)


def exec_child(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with ``argv`` (looked up on ``env``'s PATH).

    Python ignores SIGPIPE and SIGXFSZ for itself; an exec'd program would
    inherit that, so both go back to their defaults first.
    """
    _require_argv(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    previous = {n: signal.signal(n, signal.SIG_DFL) for n in (signal.SIGPIPE, signal.SIGXFSZ)}
    restore_core_limit()  # the user's program gets the user's core limit (hardening.py)
    try:
        os.execvpe(argv[0], list(argv), env)  # noqa: S606 -- no shell, on purpose
    except OSError as error:
        harden_process()
        for number, handler in previous.items():
            signal.signal(number, handler)
        raise _start_error(argv[0], error, env) from None


def run_child(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    mask: Masker | None,
    stdin: int | None = None,
    stdout: int = 1,
    stderr: int = 2,
) -> int:
    """Run ``argv`` as our child, copy its output masked, and return its exit status.

    ``stdin`` is an fd for the child (default: ours). ``stdout``/``stderr`` are
    our fds the child's output is copied to, each through a masker of its own.
    With ``mask=None`` the child writes to them directly.

    Signals: :data:`FORWARDED_SIGNALS` are relayed to the child. SIGINT and
    SIGQUIT are relayed only when we are not in the foreground of a terminal:
    there, the keyboard already signals the child (it is in our process group)
    and Compose treats a second SIGINT as "kill now". Off a terminal the child
    has a process group of its own, so a signal to our whole group reaches it
    once, through us. Each signal we receive is relayed once.
    """
    _require_argv(argv)
    outputs = [] if mask is None else [_Output.open(fd, mask.fresh()) for fd in (stdout, stderr)]
    child_fds = [output.child_fd for output in outputs] or [stdout, stderr]
    # A masked child that needs no terminal for input gets a session of its own, so
    # it cannot write past the masker through /dev/tty: its controlling terminal is
    # its stdout pty when it has one, else it has none. A child reading the
    # terminal (a password prompt, `exec -it`) keeps ours.
    detach = mask is not None and not os.isatty(0 if stdin is None else stdin)
    ctty = next((o.child_fd for o in outputs if o.is_pty), None) if detach else None
    on_terminal = _in_terminal_foreground() and not detach
    with _relayed_signals(outputs, on_terminal=on_terminal) as relay:
        try:
            child = subprocess.Popen(  # noqa: S603 -- argv comes from the caller, never a shell
                list(argv),
                env=env,
                stdin=stdin,
                stdout=child_fds[0],
                stderr=child_fds[1],
                # Off a terminal the child gets a process group of its own, so a signal
                # sent to our group (`timeout`, a CI runner) reaches it once, through us;
                # and it is told to stop if we die, even by SIGKILL. (preexec_fn is safe
                # here: no other thread of ours runs once the gpg session is closed.)
                process_group=None if on_terminal or detach else 0,
                start_new_session=detach,
                preexec_fn=_before_exec(on_terminal, ctty),
            )
        except OSError as error:
            for output in outputs:
                output.close()
            raise _start_error(argv[0], error, env) from None
        finally:
            for output in outputs:
                output.close_child_end()
        relay.attach(child)
        _collector_on()
        _copy_output(child, outputs)
        return exit_status(child.wait())


def _collector_on() -> None:
    """The garbage collector back on: copying a child's output may go on for hours.

    The entry point turns it off for the start-up (``__main__.main``).
    """
    if not gc.isenabled():
        gc.freeze()  # what the start-up made lives to the end: never scanned again
        gc.enable()


def probe(argv: Sequence[str], *, timeout: float = 15) -> bool:
    """Whether ``argv`` runs and exits 0 (output discarded), e.g. ``docker compose version``."""
    try:
        completed = subprocess.run(  # noqa: S603 -- a fixed probe command, no shell
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


def run_editor(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the user's editor on our terminal, wait for it, and return its return code.

    Ctrl-C while the editor runs belongs to the editor (vi, nano use it): we
    must not die under it. Any exception while we wait (a SIGTERM the caller
    turned into one) ends the editor first, since it may hold the plaintext open.
    """
    _require_argv(argv)
    with _interrupts_left_to_the_child():
        try:
            editor = subprocess.Popen(list(argv), env=dict(env))  # noqa: S603 -- the user's own editor, no shell
        except OSError as error:
            raise _start_error(argv[0], error) from None
        try:
            return editor.wait()
        except BaseException:
            _stop(editor)
            raise


def capture(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` and collect its output, e.g. ``docker info`` for doctor.

    ``input`` is written to its stdin (``renew`` hands passwords to a container
    this way, never on the argv); without it, stdin is empty.

    Never raises for the program's sake, so a caller reports every failure the
    same way: as a shell does, 127 when it is not found and 126 when it cannot
    start; as ``timeout(1)`` does, 124 when it has not finished after ``timeout``
    seconds (it is killed). stderr then says why.
    """
    try:
        return subprocess.run(  # noqa: S603 -- argv comes from the caller, never a shell
            list(argv),
            env=dict(env),
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(argv, 124, f"no answer within {timeout:g} s")
    except OSError as error:
        not_found = error.errno == errno.ENOENT
        code = ExitCode.COMMAND_NOT_FOUND if not_found else ExitCode.COMMAND_NOT_EXECUTABLE
        return _failed(argv, code, error.strerror or "cannot run")


@contextmanager
def streamed_output(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None
) -> Iterator[tuple[IO[bytes], Callable[[], subprocess.CompletedProcess[bytes]]]]:
    """Run ``argv`` and hand its stdout as a stream, for output too large to collect
    (``git cat-file --batch-all-objects``, ``docker image save``).

    Yields (stdout, finish): ``finish()`` waits and returns the exit status with
    stderr (at most 64 KiB kept). Leaving early stops the program. Exit codes as
    :func:`capture` (127 not found, 126 cannot start).
    """
    import tempfile

    with tempfile.TemporaryFile() as errors:  # stderr to a file: a pipe could fill and block
        try:
            child = subprocess.Popen(  # noqa: S603 -- argv comes from the caller, never a shell
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except OSError as error:
            not_found = error.errno == errno.ENOENT
            code = ExitCode.COMMAND_NOT_FOUND if not_found else ExitCode.COMMAND_NOT_EXECUTABLE
            import io

            failed = _failed(argv, code, error.strerror or "cannot run")
            yield io.BytesIO(), lambda: failed
            return
        stdout: IO[bytes] = child.stdout  # type: ignore[assignment]  # stdout=PIPE

        def finish() -> subprocess.CompletedProcess[bytes]:
            stdout.close()
            code = child.wait()
            errors.seek(0)
            return subprocess.CompletedProcess(list(argv), code, b"", errors.read(1 << 16))

        try:
            yield stdout, finish
        finally:
            if child.poll() is None:
                _stop(child)
            stdout.close()


def _failed(argv: Sequence[str], code: int, reason: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.CompletedProcess(list(argv), int(code), b"", reason.encode())


def exit_status(returncode: int) -> int:
    """A shell's view of a child's status: the code, or 128 + N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _require_argv(argv: Sequence[str]) -> None:
    if not argv:
        raise ChildStartError("no command to run", fix="name the program after `--`")


#: Linux's limit on one environment string (``NAME=value``), MAX_ARG_STRLEN.
_MAX_ENTRY_BYTES = 32 * 4096


def _start_error(
    program: str, error: OSError, env: Mapping[str, str] | None = None
) -> ChildStartError:
    # Exit codes as a shell gives them: 127 not found, 126 found but not runnable.
    if error.errno == errno.E2BIG:
        failure = ChildStartError(
            f"{program} could not be started: its environment and arguments are too large "
            f"for the system (E2BIG){_largest_entries(env)}",
            fix="keep large values out of the environment: mount them as files with a compose "
            "`secrets:` entry, or leave the caller's environment behind with --pristine; "
            f"Linux allows {_MAX_ENTRY_BYTES // 1024} KiB per variable and "
            f"{os.sysconf('SC_ARG_MAX') // 1024} KiB in all",
        )
        failure.exit_code = ExitCode.COMMAND_NOT_EXECUTABLE
        return failure
    if error.errno == errno.ENOENT:
        failure = ChildStartError(
            f"{program} was not found", fix=f"install {program}, or put it on PATH"
        )
        failure.exit_code = ExitCode.COMMAND_NOT_FOUND
        return failure
    reason = os.strerror(error.errno) if error.errno else type(error).__name__
    failure = ChildStartError(
        f"{program} could not be started: {reason}", fix=f"check that {program} is executable"
    )
    failure.exit_code = ExitCode.COMMAND_NOT_EXECUTABLE
    return failure


def _largest_entries(env: Mapping[str, str] | None) -> str:
    """Names (never values) of the variables too long for one environment string."""
    if not env:
        return ""
    sizes = {
        name: len(f"{name}={value}".encode("utf-8", "surrogateescape")) + 1
        for name, value in env.items()
    }
    too_long = sorted(name for name, size in sizes.items() if size > _MAX_ENTRY_BYTES)
    if too_long:
        return f"; too long for one variable: {', '.join(too_long)}"
    return f"; {sum(sizes.values()) // 1024} KiB of environment in all"


class _Output:
    """One output stream of the child: where it writes, where we read and copy to."""

    def __init__(self, read_fd: int, child_fd: int, destination: int, masker: Masker) -> None:
        self.read_fd = read_fd
        self.child_fd: int | None = child_fd
        self.destination = destination
        self.masker = masker
        self.is_pty = os.isatty(destination)

    @classmethod
    def open(cls, destination: int, masker: Masker) -> _Output:
        """A pty sized like ``destination`` when that is a terminal, else a pipe."""
        if not os.isatty(destination):
            read_fd, child_fd = os.pipe()
            return cls(read_fd, child_fd, destination, masker)
        read_fd, child_fd = os.openpty()
        attributes = termios.tcgetattr(child_fd)
        attributes[1] &= ~termios.OPOST  # pass "\n" as is: our own terminal adds the "\r"
        termios.tcsetattr(child_fd, termios.TCSANOW, attributes)
        output = cls(read_fd, child_fd, destination, masker)
        output.match_window_size()
        return output

    def match_window_size(self) -> None:
        """Give the pty our terminal's size (at the start and on SIGWINCH)."""
        try:
            termios.tcsetwinsize(self.read_fd, termios.tcgetwinsize(self.destination))
        except termios.error:
            pass  # our output is no terminal any more: keep the old size

    def pump(self) -> bool:
        """Copy what is there; False at the end of the stream or when nobody reads ours."""
        try:
            data = os.read(self.read_fd, _READ_SIZE)
        except OSError as error:
            if error.errno != errno.EIO:  # EIO: a pty whose child side is all closed
                raise
            data = b""
        return bool(data) and _write_all(self.destination, self.masker.feed(data))

    def release(self) -> bool:
        """Print what the masker holds back after the child went quiet."""
        return _write_all(self.destination, self.masker.release())

    def finish(self) -> None:
        """Print what the masker still holds and stop reading."""
        _write_all(self.destination, self.masker.flush())
        self.close()

    def close_child_end(self) -> None:
        if self.child_fd is not None:
            os.close(self.child_fd)
            self.child_fd = None

    def close(self) -> None:
        """Stop reading: a child still writing then gets EPIPE (or EIO), as in a pipeline."""
        self.close_child_end()
        os.close(self.read_fd)


def _copy_output(child: subprocess.Popen[bytes], outputs: list[_Output]) -> None:
    """Copy every output until it ends, or falls silent once the child has exited."""
    with selectors.DefaultSelector() as selector:
        for output in outputs:
            selector.register(output.read_fd, selectors.EVENT_READ, output)
        while selector.get_map():
            exited = child.poll() is not None
            holding = [key.data for key in selector.get_map().values() if key.data.masker.holding]
            wait = _LINGER_SECONDS if exited else _POLL_SECONDS
            events = selector.select(_IDLE_SECONDS if holding else wait)
            if not events and holding:
                for output in holding:
                    output.release()
                continue
            if exited and not events:
                break
            for key, _ in events:
                if not key.data.pump():
                    selector.unregister(key.fd)
                    key.data.finish()
        for key in list(selector.get_map().values()):
            key.data.finish()


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of ``data``; False when the reader has gone (EPIPE)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BrokenPipeError:
            return False
        view = view[written:]
    return True


class _SignalRelay:
    """Relays signals to the child; those that come before it exists wait for it."""

    def __init__(self, outputs: list[_Output]) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._waiting: list[int] = []
        self._ptys = [output for output in outputs if output.is_pty]

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self._child = child
        for number in self._waiting:
            child.send_signal(number)
        self._waiting.clear()

    def relay(self, number: int, _frame: FrameType | None = None) -> None:
        if number == signal.SIGWINCH:
            self._resize_ptys()
        if self._child is None:
            self._waiting.append(number)
        else:
            self._child.send_signal(number)  # a no-op once the child has been reaped

    def _resize_ptys(self) -> None:
        for output in self._ptys:
            output.match_window_size()


@contextmanager
def _relayed_signals(outputs: list[_Output], *, on_terminal: bool) -> Iterator[_SignalRelay]:
    """Install the relay for the child's lifetime, then restore our handlers.

    Handlers, never SIG_IGN: an ignored signal would stay ignored in the child
    across exec, a handled one is reset to its default there.
    """
    relay = _SignalRelay(outputs)
    handlers: dict[int, _Handler] = dict.fromkeys(FORWARDED_SIGNALS, relay.relay)
    # Ctrl-C and Ctrl-\ on a terminal reach the whole foreground process group,
    # the child included: relaying them would deliver them twice.
    from_keyboard = _ignore if on_terminal else relay.relay
    handlers[signal.SIGINT] = handlers[signal.SIGQUIT] = from_keyboard
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        yield relay
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _before_exec(on_terminal: bool, ctty: int | None) -> Callable[[], None]:
    """What the child runs before exec: the user's core limit; off a terminal, take ``ctty``
    as its terminal and get SIGTERM when we die.

    ``ctty`` is the child's end of a pty of ours, open in the child too (its
    stdout), in a session of its own (``start_new_session``). The death signal
    is Linux only; elsewhere the relay still covers every way we end but SIGKILL.
    """
    prctl = None if on_terminal else prctl_call()
    parent = os.getpid()

    def prepare() -> None:
        restore_core_limit()
        if on_terminal:
            return
        if ctty is not None:
            fcntl.ioctl(ctty, termios.TIOCSCTTY, 0)
        if prctl is not None:
            try:
                prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            except OSError:  # refused (a seccomp filter): the relay still covers the rest
                return
            if os.getppid() != parent:  # we died before the call above took effect
                os._exit(128 + signal.SIGTERM)

    return prepare


_PR_SET_PDEATHSIG = 1


def _ignore(_number: int, _frame: FrameType | None) -> None:
    """SIGINT or SIGQUIT from the terminal: the child got it too and acts on it; we wait."""


def _in_terminal_foreground() -> bool:
    """Whether a terminal's Ctrl-C reaches our whole process group (and so the child)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False  # no controlling terminal
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """End a child we started and still wait for: politely, then for good after 3 s."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def _interrupts_left_to_the_child() -> Iterator[None]:
    """SIGINT does nothing to us: a terminal's Ctrl-C reaches the child, which acts on it.

    A handler, not SIG_IGN, which the child would inherit. Only the main thread
    may set handlers; elsewhere signals are not ours to change.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _ignore)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

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
  then through a :class:`~secure_up.masking.Masker` to our stdout/stderr. Its
  stdin is ours, so ``secure-up compose -- exec -T db psql < dump.sql`` works.
  Signals are relayed (see :data:`FORWARDED_SIGNALS` and :func:`run_child`) and
  the exit status is the child's, ``128 + N`` when signal N killed it.

Under GitHub Actions, :func:`announce_to_github_actions` registers each value
with the runner's log masker first.

Two helpers run programs that see no secret at all: :func:`run_editor` (the
user's editor on a plaintext file, for ``edit``) and :func:`capture` (doctor's
probes). gpg is the exception to "the only module": the key subsystem runs its
own tool in ``keys/``.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO, NoReturn

from secure_up.errors import ExitCode, SecureUpError
from secure_up.hardening import harden_process, restore_core_limit
from secure_up.masking import MIN_LENGTH, Masker, value_lines
from secure_up.secret_values import SecretValues

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


def announce_to_github_actions(
    base: Mapping[str, str], secrets: SecretValues, *, out: int = 1
) -> bool:
    """Under GitHub Actions (``GITHUB_ACTIONS=true`` in ``base``), print ``::add-mask::`` lines.

    This is the one place a value is ever printed: to ``out`` (our stdout, which
    the runner reads), in GitHub's own protocol, before the child can print it,
    so the runner hides it in the job log. Returns whether it printed.
    """
    if base.get("GITHUB_ACTIONS") != "true":
        return False
    sys.stdout.flush()  # keep anything we printed before in order
    _write_all(out, add_mask_commands(secrets.values()))
    return True


def launch(
    argv: Sequence[str],
    base: Mapping[str, str],
    secrets: SecretValues,
    *,
    pristine: bool,
    mask: bool,
) -> int:
    """Run ``argv`` with ``secrets`` in its environment: the one call the CLI makes.

    Execs the child (never returns) unless ``mask`` asks for masking and some
    value is long enough to mask; then runs it and returns its exit status.
    """
    env = child_environment(base, secrets, pristine=pristine)
    announce_to_github_actions(base, secrets)
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
        raise _start_error(argv[0], error) from None


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
    on_terminal = _in_terminal_foreground()
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
                process_group=None if on_terminal else 0,
                preexec_fn=_before_exec(on_terminal),
            )
        except OSError as error:
            for output in outputs:
                output.close()
            raise _start_error(argv[0], error) from None
        finally:
            for output in outputs:
                output.close_child_end()
        relay.attach(child)
        _copy_output(child, outputs)
        return exit_status(child.wait())


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
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` without input and collect its output, e.g. ``docker info`` for doctor.

    Never raises for the program's sake, so a caller reports every failure the
    same way: as a shell does, 127 when it is not found and 126 when it cannot
    start; as ``timeout(1)`` does, 124 when it has not finished after ``timeout``
    seconds (it is killed). stderr then says why.
    """
    try:
        return subprocess.run(  # noqa: S603 -- argv comes from the caller, never a shell
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
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


def _start_error(program: str, error: OSError) -> ChildStartError:
    # Exit codes as a shell gives them: 127 not found, 126 found but not runnable.
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
            events = selector.select(_LINGER_SECONDS if exited else _POLL_SECONDS)
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


def _before_exec(on_terminal: bool) -> Callable[[], None]:
    """What the child runs before exec: the user's core limit; off a terminal, stop with us."""
    stop_with_parent = None if on_terminal else _stop_with_parent()

    def before_exec() -> None:
        restore_core_limit()
        if stop_with_parent is not None:
            stop_with_parent()

    return before_exec


def _stop_with_parent() -> Callable[[], None] | None:
    """What the child runs before exec so that it gets SIGTERM when we die (Linux only)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the relay still covers every way we end but SIGKILL
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # we died before the call above took effect
            os._exit(128 + signal.SIGTERM)

    return set_parent_death_signal


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

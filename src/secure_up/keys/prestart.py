"""gpg started on the files of the command line first thing, before Python loads secure-up.

Loading the modules that ``run``, ``decrypt`` and ``app`` need takes about 40 ms;
gpg needs about 20 ms to open a data key through the user's agent. So the entry
point calls :func:`start` before it imports anything: for each PGP message at the
end of the files this run will most likely open, one ``gpg --decrypt`` is spawned
with exactly the argv and environment :class:`~secure_up.keys.pgp.GnuPG` would use,
and Python loads the rest meanwhile.

Which files is the command line's business (:mod:`secure_up.cli.likely_files`). A
guess may be wrong (a compose file's ``x-secure-up`` names another file): that
costs one gpg run on another core, nothing else, because GnuPG takes a process
(:func:`take`) only for the very message it wants to open, started with the very
argv and environment it would have used itself. What nobody took is waited for
and dropped (:func:`discard`) when the command's key services end, before it
starts any program.

Only where gpg can never ask for anything: no terminal on stdin, and neither a CI
key nor a passphrase variable (gpg then gets ``--pinentry-mode error``, as GnuPG
gives it). gpg's output is bounded: a data key is 32 bytes, and a hostile message
(a compressed bomb) must not fill our memory.

With a CI key that opens data keys in memory (``keys/pgp_native.py``), no gpg is
needed: a child forked here opens the messages with the key while we load, and
sends the plaintexts over a pipe; :class:`~secure_up.keys.pgp.PgpService` takes
them when the environment's key variables are the ones the child saw.

This module imports only what the interpreter has loaded before any code of ours
runs (``os``, ``sys``), plus the builtin ``_signal``: everything it saves is time
the imports would otherwise add.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself costs milliseconds to import; mypy knows this name
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: sops writes its metadata last: the PGP messages are in the file's tail.
TAIL = 256 * 1024
#: A file names one or two PGP recipients; a few more are worth starting early.
MAX_MESSAGES = 4
#: The most gpg may write on stdout (a data key or a Shamir share is a few dozen bytes)
#: and on stderr (its status lines) before it is stopped.
MAX_STDOUT = 64 * 1024
MAX_STDERR = 1024 * 1024
#: The most we write to gpg's stdin (a passphrase line and a message): it must fit the
#: pipe (64 KiB), as it is written before gpg's output is read. A data key's message,
#: armored, is a few KiB even for RSA-16384.
MAX_STDIN = 48 * 1024
#: Our own variables: a CI key or a passphrase means GnuPG runs gpg differently.
PRIVATE_VARIABLE_PREFIX = "SECURE_UP_GPG_"
_BEGIN = "-----BEGIN PGP MESSAGE-----"
_END = "-----END PGP MESSAGE-----"
_S_IFMT, _S_IFREG = 0o170000, 0o100000


class Started:
    """One ``gpg --decrypt`` spawned here: its argv, environment and pipes."""

    __slots__ = ("_result", "_stderr", "_stdout", "argv", "env", "pid")

    def __init__(self, argv: list[str], env: dict[str, str], pid: int, stdout: int, stderr: int):
        self.argv = argv
        self.env = env
        self.pid = pid
        self._stdout = stdout
        self._stderr = stderr
        self._result: tuple[bytes, bytes] | None = None

    def __repr__(self) -> str:  # the environment may hold anything: never shown
        return f"Started(pid={self.pid})"

    def communicate(self) -> tuple[bytes, bytes]:
        """gpg's stdout and stderr, once it has ended; stopped when it writes too much."""
        if self._result is None:
            self._result = self._collect()
        return self._result

    def _collect(self) -> tuple[bytes, bytes]:
        """Read gpg's output to its end; past the limits, drop it and give gpg 2 s to end.

        Output past the limits is no data key (a compression bomb): it is read and
        dropped, never kept, so that gpg ends on its own and removes its keyring's
        lock files (killed, gpg 2.2 leaves one behind, whatever the signal). If it
        has not ended 2 s later, it is killed: its next run clears the stale lock.
        """
        import select  # C modules: loaded long before anyone asks for the output
        import time

        limits = {self._stdout: MAX_STDOUT, self._stderr: MAX_STDERR}
        chunks: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        sizes = dict.fromkeys(chunks, 0)
        poller = select.poll()
        for fd in chunks:
            poller.register(fd, select.POLLIN)
        open_fds = set(chunks)
        deadline: float | None = None  # set once the output is too large
        try:
            while open_fds:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                events = poller.poll(None if wait is None else int(wait * 1000))
                if not events and deadline is not None:
                    _kill(self.pid)  # still writing after 2 s: stop it
                    break
                for fd, _event in events:
                    data = os.read(fd, 65536)
                    if not data:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                    elif deadline is None:
                        chunks[fd].append(data)
                        sizes[fd] += len(data)
                        if sizes[fd] > limits[fd]:
                            deadline = time.monotonic() + 2.0
                            chunks = {fd: [] for fd in chunks}  # none of it is kept
        finally:
            for fd in chunks:
                os.close(fd)
        _reap(self.pid)
        if deadline is not None:
            return b"", b"gpg: output too large for a data key\n"
        return b"".join(chunks[self._stdout]), b"".join(chunks[self._stderr])


_started: dict[str, Started] = {}


def start(paths: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
    """Spawn gpg on the PGP messages of ``paths``, the files the command will most likely open.

    With a CI key that opens data keys in memory, a forked child of ours opens them
    instead (:func:`_fork_in_memory`).
    """
    environ = os.environ if environ is None else environ
    if any(name.startswith(PRIVATE_VARIABLE_PREFIX) for name in environ):
        if _key_in_memory(environ):
            _fork_in_memory(pgp_messages(paths), environ)
        return  # a CI key or a passphrase: GnuPG runs gpg another way
    try:
        if os.isatty(0):
            return  # a person may have to type a passphrase: gpg asks when the command needs it
    except OSError:
        pass
    messages = pgp_messages(paths)
    if not messages:
        return
    argv = decrypt_argv(environ)
    if argv is None:
        return
    env = dict(environ)
    from secure_up.system.hardening import lower_core_limit

    lower_core_limit()  # gpg holds the data key: no core file of it, as for every gpg we run
    for message in messages:
        try:
            _started[message] = spawn(argv, env, message.encode("utf-8"))
        except OSError:
            return  # the command meets the same problem where it always did


def take(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Started]:
    """The processes started for exactly ``argv`` and ``env``, by message; they are the caller's."""
    taken = {
        message: started
        for message, started in _started.items()
        if started.argv == list(argv) and started.env == dict(env)
    }
    for message in taken:
        del _started[message]
    return taken


def pending() -> bool:
    """Whether anything started here waits to be taken."""
    return bool(_started)


def discard() -> None:
    """Wait for what nobody took, and drop its output."""
    while _started:
        _message, started = _started.popitem()
        started.communicate()
    _discard_in_memory()


# -- The CI key: data keys opened in memory by a child forked before the imports --------

#: The variables that decide how a CI key opens a data key (keys/session.py, pgp_native.py).
_IN_MEMORY_VARIABLES = (
    "SECURE_UP_GPG_KEY",
    "SECURE_UP_GPG_KEY_FILE",
    "SECURE_UP_GPG_PASSPHRASE",
    "SECURE_UP_GPG_PASSPHRASE_FILE",
    "SECURE_UP_PGP_NATIVE",
)
#: The most a child may send for one message (a data key or a Shamir share is 32 bytes).
_MAX_OPENED = 4096


class _OpenedInMemory:
    """A forked child opening PGP messages with the CI key; its results come over a pipe."""

    __slots__ = ("fd", "messages", "pid", "variables")

    def __init__(self, pid: int, fd: int, messages: list[str], variables: dict[str, str | None]):
        self.pid = pid
        self.fd = fd
        self.messages = messages
        self.variables = variables

    def __repr__(self) -> str:
        return f"_OpenedInMemory(pid={self.pid})"

    def results(self) -> dict[str, bytes]:
        """Each message the child opened, and what it holds; the child is reaped."""
        limit = len(self.messages) * (4 + _MAX_OPENED)
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                data = os.read(self.fd, 65536)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
        except OSError:
            chunks = []
        finally:
            os.close(self.fd)
        if size > limit:  # not what our child writes: take nothing
            _kill(self.pid)
            chunks = []
        _reap(self.pid)
        data, offset = b"".join(chunks), 0
        opened: dict[str, bytes] = {}
        for message in self.messages:
            length = int.from_bytes(data[offset : offset + 4], "big")
            plaintext = data[offset + 4 : offset + 4 + length]
            if len(data) < offset + 4 or len(plaintext) != length or length > _MAX_OPENED:
                break  # the child ended early: the rest is opened the usual way
            opened[message] = plaintext
            offset += 4 + length
        return opened


_in_memory: _OpenedInMemory | None = None


def opened_in_memory(environ: Mapping[str, str]) -> dict[str, bytes]:
    """What the CI key made of the messages it was given before the imports, by message.

    The plaintext, or b"" for a message it could not open. Only when ``environ`` has
    the variables the child saw; for another environment, nothing (the child is
    stopped). The caller takes them all.
    """
    global _in_memory
    child, _in_memory = _in_memory, None
    if child is None:
        return {}
    if {name: environ.get(name) for name in _IN_MEMORY_VARIABLES} != child.variables:
        _stop(child)
        return {}
    return child.results()


def open_in_child(messages: list[str], environ: Mapping[str, str]) -> dict[str, bytes]:
    """``messages`` opened with the CI key by a child forked now, as :func:`opened_in_memory`.

    Nothing (the caller uses gpg) while another thread runs: a fork copies no thread,
    and a lock one of them held would never be released in the child.
    """
    import sys

    threading = sys.modules.get("threading")
    if _in_memory is not None or (threading is not None and threading.active_count() > 1):
        return {}
    _fork_in_memory(messages, environ)
    return opened_in_memory(environ)


def _key_in_memory(environ: Mapping[str, str]) -> bool:
    has_key = "SECURE_UP_GPG_KEY" in environ or "SECURE_UP_GPG_KEY_FILE" in environ
    return has_key and environ.get("SECURE_UP_PGP_NATIVE", "").strip() != "0"


def _fork_in_memory(messages: list[str], environ: Mapping[str, str]) -> None:
    """Fork a child that opens ``messages`` with the CI key while we load the rest.

    Opening a data key with an RSA-3072 key (pysequoia's import, the key's parsing,
    the decryption) takes about 9 ms, all of it on the CI path's critical path when
    done after the imports; in a child forked now (no thread exists yet, so forking
    is safe) it overlaps them. The child runs exactly what the command would
    (:class:`~secure_up.keys.pgp_native.NativeKey`), sends each plaintext over a
    pipe (never a file), and exits without running any of our cleanups. It sends
    nothing for what it could not open: the command then opens that itself, with
    the errors it always gave.
    """
    global _in_memory
    if not messages or _in_memory is not None:
        return
    variables = {name: environ.get(name) for name in _IN_MEMORY_VARIABLES}
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return
    if pid == 0:  # the child: never returns
        try:
            os.close(read_fd)
            _open_in_child(messages, environ, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    _in_memory = _OpenedInMemory(pid, read_fd, messages, variables)


def _open_in_child(messages: list[str], environ: Mapping[str, str], fd: int) -> None:
    try:
        from secure_up.system.hardening import harden_process

        harden_process()  # it holds the CI key: no core file, no debugger, as we
        _bound_memory()  # a message that decompresses to gigabytes ends this child only
        from secure_up.keys.pgp_native import NativeKey
        from secure_up.keys.session import ci_key

        key = ci_key(environ)
        native = NativeKey.load(*key) if key is not None else None
        for message in messages:
            plaintext = (native.decrypt(message) if native is not None else None) or b""
            if len(plaintext) > _MAX_OPENED:
                plaintext = b""
            record = len(plaintext).to_bytes(4, "big") + plaintext
            while record:
                record = record[os.write(fd, record) :]
    except BaseException:  # noqa: S110 - whatever failed, the command meets it again itself
        pass


#: Memory the child may take beyond what it has when forked: pysequoia, the key, a few
#: messages. A message that needs more (a compression bomb) ends it, not us.
_CHILD_MEMORY = 512 * 1024 * 1024


def _bound_memory() -> None:
    import resource

    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # no /proc: the child's own memory goes unbounded
        return
    limit = size + _CHILD_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _discard_in_memory() -> None:
    global _in_memory
    child, _in_memory = _in_memory, None
    if child is not None:
        _stop(child)


def _stop(child: _OpenedInMemory) -> None:
    _kill(child.pid)
    _reap(child.pid)
    os.close(child.fd)


def decrypt_argv(environ: Mapping[str, str]) -> list[str] | None:
    """The argv GnuPG runs to open a data key without a terminal, or None without gpg."""
    binary = which(environ.get("SOPS_GPG_EXEC") or "gpg", environ.get("PATH"))
    if binary is None:
        return None
    argv = [binary, "--status-fd", "2", "--no-tty", "--no-verbose", "--batch"]
    if environ.get("GNUPGHOME"):
        argv += ["--homedir", environ["GNUPGHOME"]]
    return [*argv, "--pinentry-mode", "error", "--decrypt"]


def pgp_messages(paths: Iterable[str]) -> list[str]:
    """The armored PGP messages at the end of each file, as sops' metadata parsers yield them.

    Hand-written (no regex module is loaded this early): the text between the armor
    lines, with the ``\\n`` escapes of dotenv and INI files undone and each line
    stripped, as the stores do. A message read wrongly here is never used: only a
    message equal to one the file's parsed metadata holds is ever taken.
    """
    messages: list[str] = []
    for path in paths:
        tail = read_tail(path)
        begin = tail.find(_BEGIN)
        while begin != -1:
            end = tail.find(_END, begin)
            if end == -1:
                break
            armored = tail[begin : end + len(_END)].replace("\\n", "\n")
            message = "\n".join(line.strip() for line in armored.splitlines())
            if message not in messages and len(message) <= MAX_STDIN // 2:
                messages.append(message)
            begin = tail.find(_BEGIN, end)
    return messages[:MAX_MESSAGES]


def read_tail(path: str) -> str:
    """The last bytes of a regular file, as text; empty when it cannot be read so."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return ""
    try:
        status = os.fstat(fd)
        if status.st_mode & _S_IFMT != _S_IFREG:  # a FIFO or device: the command says what it is
            return ""
        os.lseek(fd, max(0, status.st_size - TAIL), os.SEEK_SET)
        return os.read(fd, TAIL).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def which(name: str, path: str | None) -> str | None:
    """``shutil.which(name, path=path)``: shutil loads bz2, lzma and zlib (2 ms) for archives."""
    if os.path.dirname(name):
        return name if _executable(name) else None
    search = os.environ.get("PATH", os.defpath) if path is None else path
    if not search:
        return None
    directories = search.split(os.pathsep)
    seen: set[str] = set()
    for directory in directories:
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if _executable(candidate):
            return candidate
    return None


def _executable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.X_OK) and not os.path.isdir(path)


def spawn(argv: list[str], env: dict[str, str], stdin: bytes) -> Started:
    """gpg on ``argv``, fed ``stdin`` (at most :data:`MAX_STDIN`: it fits the pipe).

    Its output is read by :meth:`Started.communicate`, bounded: every gpg that opens a
    data key runs so (here, and in keys/pgp.py).
    """
    import _signal  # type: ignore[import-not-found]  # no stubs; signal's enums cost time

    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_read, 0),
                (os.POSIX_SPAWN_DUP2, stdout_write, 1),
                (os.POSIX_SPAWN_DUP2, stderr_write, 2),
            ],
            # Python ignores SIGPIPE and SIGXFSZ; gpg gets the defaults, as subprocess gives them.
            setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
        )
    except BaseException:
        for fd in (stdout_read, stderr_read, stdin_write):
            os.close(fd)
        raise
    finally:
        for fd in (stdin_read, stdout_write, stderr_write):
            os.close(fd)
    try:
        os.write(stdin_write, stdin)
    except OSError:
        pass  # gpg ended early: its status lines say why
    finally:
        os.close(stdin_write)
    return Started(argv, env, pid, stdout_read, stderr_read)


def _kill(pid: int) -> None:
    import _signal

    try:
        os.kill(pid, _signal.SIGKILL)
    except OSError:
        pass


def _reap(pid: int) -> None:
    while True:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        return

"""The ``secure-up`` entry point: run the CLI and turn errors into advice and exit codes."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from secure_up.errors import ExitCode, SecureUpError
from secure_up.fastpath import parse as parse_fast
from secure_up.fastpath import route

#: The exit status of a Python process whose standard streams cannot be flushed at exit.
_FLUSH_FAILED = 120


def _report_internal_error(error: BaseException) -> None:
    # The message of an unexpected exception may quote data (a value, a line
    # of a file); print only its type and where it happened.
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""
    sys.stderr.write(
        f"error: internal error ({type(error).__name__}{where}); this is a bug in secure-up.\n"
        "  fix: please report it with the command you ran (never the secret values); "
        "SECURE_UP_DEBUG=1 shows the traceback, which may include file contents\n"
    )


def _run(args: list[str]) -> int:
    args = route(args)
    fast = parse_fast(args)
    if fast is not None:
        command, arguments = fast
        return command.call(arguments) or ExitCode.OK
    from secure_up.cli import app  # Typer: only when the full parser is needed

    app(args=args, prog_name="secure-up")
    return ExitCode.OK


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    try:
        code: int = _run(args)
    except SecureUpError as error:
        sys.stderr.write(error.diagnostics() + "\n")
        code = error.exit_code
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else ExitCode.ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        code = ExitCode.ERROR
    except Exception as error:
        if os.environ.get("SECURE_UP_DEBUG"):
            raise
        _report_internal_error(error)
        code = ExitCode.ERROR
    if argv is None:  # the process is ours: nothing runs after us
        _exit_without_teardown(code)
    sys.exit(code)


def _exit_without_teardown(code: int) -> NoReturn:
    """Exit at once, as a process that has finished its work can.

    Tearing down the interpreter (every module, cryptography's and python-gnupg's
    among them) takes about 10 ms, a fifth of what sops needs for a whole run, and
    does nothing for us: every file, private directory and child process is closed
    by then, and no atexit hook or non-daemon thread of ours exists. Only the
    standard streams hold data, so they are flushed first; when that fails, the
    exit status is the 120 Python itself gives then.
    """
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        code = _FLUSH_FAILED
    os._exit(code)


if __name__ == "__main__":
    main()

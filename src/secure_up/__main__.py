"""The ``secure-up`` entry point: run the CLI and turn errors into advice and exit codes.

This module imports nothing at its top but what the interpreter has loaded (``os``,
``sys``, the builtin ``_signal``): :func:`main` first starts gpg on the files the
command line names (:mod:`secure_up.keys.prestart`), then loads the rest while gpg works.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stubs; signal's enums cost milliseconds
import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy knows this name
if TYPE_CHECKING:
    from typing import NoReturn


def _exit_interrupted(_signum: int, _frame: object) -> None:
    """Ctrl-C outside the commands' own handling: nothing to clean up yet, exit 130 quietly."""
    os._exit(130)


# First, before anything else is loaded: a Ctrl-C while Python loads our modules would
# otherwise end in a KeyboardInterrupt traceback. main() hands SIGINT back to
# Python (KeyboardInterrupt, so that cleanups run) once it can report it.
if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    try:
        _signal.signal(_signal.SIGINT, _exit_interrupted)
    except ValueError:  # imported outside the main thread: not the entry point
        pass

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
    from secure_up.cli.fastpath import parse as parse_fast
    from secure_up.cli.fastpath import route
    from secure_up.errors import ExitCode
    from secure_up.keys import prestart

    args = route(args)
    fast = parse_fast(args)
    if fast is not None:
        command, arguments = fast
        named = [
            *arguments.get("secrets", ()),
            *([arguments["path"]] if "path" in arguments else []),
        ]
        if not named and not prestart.pending():
            return command.call(arguments) or ExitCode.OK
        # gpg opens the named files' data keys while the command's modules load.
        from secure_up.keys.early import opened_early

        with opened_early(os.environ, named):
            return command.call(arguments) or ExitCode.OK
    import gc

    gc.enable()  # off for the start-up only (main): these commands may run long
    from secure_up.cli.app import app  # Typer: only when the full parser is needed

    app(args=args, prog_name="secure-up")
    return ExitCode.OK


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # the process is ours
        # Loading our modules and the command's bounded work allocate much and make no
        # garbage cycles worth a collector pass (3% of a `run`); the collector comes
        # back on where long work starts: a child's output copied (system/process.py)
        # and every command that goes through Typer.
        import gc

        gc.disable()
        from secure_up.cli.likely_files import likely_files
        from secure_up.keys import prestart

        prestart.start(likely_files(args, os.environ))  # gpg opens them while Python loads on
        from secure_up.system.hardening import harden_process
        from secure_up.system.process_exit import own

        harden_process()  # keep secrets out of core dumps and debuggers
        own()  # the process ends with os._exit: large trees are left to it
    try:
        code = _run_reporting_errors(args)
    except KeyboardInterrupt:  # a second Ctrl-C while an error was being reported
        from secure_up.errors import ExitCode

        code = ExitCode.INTERRUPTED
    finally:
        from secure_up.keys import prestart

        prestart.discard()  # nothing of ours runs gpg after the command
    if argv is None:  # the process is ours: nothing runs after us
        _quiet_interrupts()
        _exit_without_teardown(code)
    sys.exit(code)


def _run_reporting_errors(args: list[str]) -> int:
    """Run the command, then append its audit line if it used a key (decrypted or changed)."""
    from secure_up.audit import record as audit
    from secure_up.cli.fastpath import route

    routed = route(args)
    required = os.environ.get("SECURE_UP_AUDIT_REQUIRED", "").strip() not in ("", "0")
    run = audit.begin(routed[0] if routed else "", required=required)
    code = _run_with_error_report(args)
    if run.uses_keys:
        from secure_up.audit.log import write

        audit.note_arguments(run, routed, code)
        code = write(run, code, os.environ)
    return code


def _run_with_error_report(args: list[str]) -> int:
    """Run the command; turn every way it can end into an exit code and a message."""
    from secure_up.errors import ExitCode, SecureUpError

    code: int
    try:
        if _signal.getsignal(_signal.SIGINT) is _exit_interrupted:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        code = _run(args)
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
    return code


def _quiet_interrupts() -> None:
    """From here on nothing needs cleaning up: a Ctrl-C exits 130 without a traceback."""
    try:
        _signal.signal(_signal.SIGINT, _exit_interrupted)
    except ValueError:  # not the main thread
        pass


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

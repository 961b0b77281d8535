"""Signals that must not cut a cleanup short.

A throw-away keyring and the plaintext an editor works on must be removed on
every exit path. SIGTERM and SIGHUP (Ctrl-C already raises KeyboardInterrupt)
are turned into an exception so ``finally`` blocks run, and ending signals are
held while a removal is under way, then delivered once it is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Final

#: Signals that unwind a ``with`` block.
UNWIND_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)
#: Signals held while something is made or removed, so it is never left half done.
ENDING_SIGNALS: Final = frozenset({signal.SIGINT, *UNWIND_SIGNALS})


def _in_main_thread() -> bool:
    # Handlers and the process signal mask can only be changed from the main thread.
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Defer SIGINT, SIGTERM and SIGHUP until the block is done."""
    if not _in_main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def unwind_on_signals(error: Callable[[int], BaseException]) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``error(signum)`` raised inside the block.

    Once one arrives, further ending signals are held until the block is done,
    so the cleanup it triggers is not itself interrupted. The previous handlers
    and signal mask come back afterwards; a signal held meanwhile is then
    delivered to them.
    """
    if not _in_main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())

    def unwind(signum: int, _frame: FrameType | None) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
        raise error(signum)

    previous: dict[signal.Signals, Any] = {}  # handlers as signal.signal returns them
    try:
        for signum in UNWIND_SIGNALS:
            previous[signum] = signal.signal(signum, unwind)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

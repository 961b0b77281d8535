"""The end of a process that is ours: large objects left to the exit, not freed one by one.

The entry point ends the process with ``os._exit`` once the command is done
(``secure_up.__main__._exit_without_teardown``), and the kernel takes all its memory
back at once. A command that built a large tree — a decrypted 10,000-key file is
some 50,000 objects, the encrypted one as many again — would first spend 1.5 ms
freeing it object by object as it returns, on a path measured against sops.
:func:`leave_to_exit` keeps such objects until the exit instead, but only once the
entry point has said that the process is its own (:func:`own`): a library caller's
objects are freed as usual. Python never zeroes the memory it frees, so no
plaintext stays in memory any longer either way.
"""

from __future__ import annotations

_left: list[tuple[object, ...]] = []
_owned = False


def own() -> None:
    """Called by the entry point when it will end the process itself, at once."""
    global _owned  # one process-wide fact, set once at start-up
    _owned = True


def leave_to_exit(*objects: object) -> None:
    """Keep ``objects`` until the process ends, if the entry point owns it; else nothing."""
    if _owned:
        _left.append(objects)

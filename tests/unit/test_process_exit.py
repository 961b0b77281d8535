"""Objects left to the exit: kept only when the entry point owns the process."""

from __future__ import annotations

import subprocess
import sys
import weakref

from secure_up.system import process_exit


class _Tree:
    """Stands for a decrypted tree (a Branch, a list subclass, takes no weak reference)."""


def test_a_library_callers_objects_are_freed_as_usual() -> None:
    assert not process_exit._owned  # pytest's process: the entry point never ran
    tree = _Tree()
    alive = weakref.ref(tree)
    process_exit.leave_to_exit(tree)
    del tree
    assert alive() is None


PROBE = """
import weakref
from secure_up.system import process_exit
class Tree: pass
process_exit.own()
tree = Tree()
alive = weakref.ref(tree)
process_exit.leave_to_exit(tree)
del tree
print(alive() is not None)
"""


def test_in_a_process_the_entry_point_owns_they_are_kept_for_the_exit() -> None:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.strip() == "True"

"""Start-up hardening: non-dumpable, soft core limit 0, the user's limit kept for children.

Each check runs in a fresh Python process: hardening changes the process for good.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="prctl is Linux's")

PROBE = """
import json, resource, subprocess
from secure_up.system.hardening import harden_process, is_dumpable, original_core_limit
from secure_up.system.hardening import restore_core_limit
before = is_dumpable()
harden_process()
harden_process()  # idempotent: the original limit is not overwritten by 0
child = subprocess.run(["sh", "-c", "ulimit -c"], capture_output=True, text=True,
                       preexec_fn=restore_core_limit).stdout.strip()
print(json.dumps({
    "before": before,
    "after": is_dumpable(),
    "limit": resource.getrlimit(resource.RLIMIT_CORE),
    "original": original_core_limit(),
    "child": child,
}))
"""


def unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def test_hardening_makes_the_process_non_dumpable_and_children_get_the_limit_back() -> None:
    output = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=unlimited_core,
        timeout=60,
    ).stdout
    report = json.loads(output)
    infinity = resource.RLIM_INFINITY
    assert report["before"] is True
    assert report["after"] is False
    assert report["limit"] == [0, infinity]  # the hard limit stays, so children can go back
    assert report["original"] == [infinity, infinity]
    assert report["child"] == "unlimited"


NATIVE_OR_NOT = """
import json, sys
if sys.argv[1] == "ctypes":
    sys.modules["secure_up.system._prctl"] = None  # as where the extension was not built
from secure_up.system.hardening import harden_process, is_dumpable
harden_process()
print(json.dumps({"dumpable": is_dumpable(), "ctypes": "ctypes" in sys.modules}))
"""


@pytest.mark.parametrize("way", ["native", "ctypes"])
def test_hardening_works_with_the_native_call_and_without_it(way: str) -> None:
    # The native call (system/_prctl.c) spares every start ctypes' import; where the
    # extension was not built, ctypes does the same. On this project's machines it is built:
    # a silent fallback would hide a slower start.
    output = subprocess.run(
        [sys.executable, "-c", NATIVE_OR_NOT, way],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(output) == {"dumpable": False, "ctypes": way == "ctypes"}

"""The compiled parts: the masker's inner loop (src/secure_up/launch/_masknative.c) and
prctl(PR_SET_DUMPABLE) for the start-up hardening (src/secure_up/system/_dumpable.c).

Both optional: where they cannot be built (no C compiler, no Python headers), the install
goes on; secure-up then masks with its pure-Python path (launch/masking.py), slower on
output dense with secrets, and calls prctl through ctypes (2.5 ms more at every start).
Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "secure_up.launch._masknative",
            sources=["src/secure_up/launch/_masknative.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
        ),
        Extension(
            "secure_up.system._dumpable",
            sources=["src/secure_up/system/_dumpable.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
        ),
    ]
)

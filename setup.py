"""The compiled parts: the masker's inner loop (src/secure_up/launch/_masknative.c) and
the prctl(2) calls of the start-up hardening and of children (src/secure_up/system/_prctl.c).

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
            "secure_up.system._prctl",
            sources=["src/secure_up/system/_prctl.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
        ),
    ]
)

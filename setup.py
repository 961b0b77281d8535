"""The one compiled part: the masker's inner loop (src/secure_up/launch/_masknative.c).

Optional: where it cannot be built (no C compiler, no Python headers), the install goes
on and secure-up masks with its pure-Python path (launch/masking.py), slower on output
dense with secrets. Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "secure_up.launch._masknative",
            sources=["src/secure_up/launch/_masknative.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
        )
    ]
)

"""The CI path: a fresh runner with the key in a variable, secure-up against the shell recipe.

Both start from a fresh keyring on every run and leave nothing behind:

  shell:      GNUPGHOME=$(mktemp -d); gpg --batch --import KEY; sops exec-env FILE true;
              gpgconf --kill gpg-agent; rm -rf "$GNUPGHOME"
  secure-up:  SECURE_UP_GPG_KEY_FILE=KEY secure-up run -s FILE -- true

Target (issue 15): time ratio at most 1.0, medians of interleaved runs.
Run: .venv/bin/python bench/bench_ci.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from common import compare, throwaway_keyring, tool, verdict

SHELL_RECIPE = (
    'export GNUPGHOME=$(mktemp -d); gpg --batch --quiet --import "$KEY" 2>/dev/null; '
    'sops exec-env "$FILE" true; gpgconf --kill gpg-agent; rm -rf "$GNUPGHOME"'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    sops, secure_up = tool("sops"), tool("secure-up")
    with throwaway_keyring() as (env, fingerprint), tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp, "key.asc")
        key.write_bytes(
            subprocess.run(
                ["gpg", "--batch", "--armor", "--export-secret-keys", fingerprint],
                env=env,
                check=True,
                capture_output=True,
            ).stdout
        )
        plain = Path(tmp, "ten.env")
        plain.write_text("".join(f"KEY_{i}=value-{i}-some secret text\n" for i in range(10)))
        secrets = Path(tmp, "ten.enc.env")
        secrets.write_bytes(
            subprocess.run(
                [sops, "encrypt", "--pgp", fingerprint, str(plain)],
                env=env,
                cwd=tmp,
                check=True,
                capture_output=True,
            ).stdout
        )
        plain.unlink()
        # A runner's environment: no keyring of its own, the key in a file a variable names.
        runner = {k: v for k, v in env.items() if k != "GNUPGHOME" and not k.startswith("SECURE_")}
        runner |= {
            "HOME": tmp,
            "KEY": str(key),
            "FILE": str(secrets),
            "PATH": f"{Path(sops).parent}{os.pathsep}{env['PATH']}",
        }
        results = compare(
            runs,
            {
                "shell": ["bash", "-c", SHELL_RECIPE],
                "secure-up": [secure_up, "run", "-s", str(secrets), "--", "true"],
            },
            runner,
            extra={"secure-up": {"SECURE_UP_GPG_KEY_FILE": str(key)}},
        )
    theirs, mine = results["shell"], results["secure-up"]
    ratio = mine.wall / theirs.wall
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"CI path (fresh keyring, key in a variable, run `true`), median of {runs} runs:")
    print(f"  shell recipe {theirs.wall * 1000:7.1f} ms  peak {theirs.peak / 1024:6.1f} MiB")
    print(f"  secure-up    {mine.wall * 1000:7.1f} ms  peak {mine.peak / 1024:6.1f} MiB")
    print(f"  time ratio   {ratio:.2f}  {verdict(ratio, 1.0)}")


if __name__ == "__main__":
    main()

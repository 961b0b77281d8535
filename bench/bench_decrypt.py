"""Decrypting a dotenv file of 10,000 keys: secure-up against the real sops, side by side.

Targets (issue 2): wall time at most 0.5x sops', peak memory at most 2x sops'.
Run: .venv/bin/python bench/bench_decrypt.py [--runs N]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import tempfile
from pathlib import Path

from common import compare, throwaway_keyring, tool, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args()
    sops, secure_up = tool("sops"), tool("secure-up")
    with throwaway_keyring() as (env, fingerprint), tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "big.env")
        plain.write_text(
            "".join(f"KEY_{i}=value-{i}-some secret text here\n" for i in range(args.keys))
        )
        encrypted = Path(tmp, "big.enc.env")
        encrypted.write_bytes(
            subprocess.run(
                [sops, "encrypt", "--pgp", fingerprint, str(plain)],
                env=env,
                check=True,
                capture_output=True,
                cwd=tmp,  # away from a checkout's .sops.yaml
            ).stdout
        )
        ours = subprocess.run(
            [secure_up, "decrypt", str(encrypted)], env=env, check=True, capture_output=True
        ).stdout
        if ours != plain.read_bytes():
            raise SystemExit("secure-up's output differs from the plaintext")
        results = compare(
            args.runs,
            {
                "sops": [sops, "decrypt", str(encrypted)],
                "secure-up": [secure_up, "decrypt", str(encrypted)],
            },
            env,
        )
    theirs, mine = results["sops"], results["secure-up"]
    time_ratio = mine.wall / theirs.wall
    memory_ratio = mine.peak / theirs.peak
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"decrypt {args.keys} dotenv keys, median of {args.runs} runs:")
    print(f"  sops       {theirs.wall * 1000:7.1f} ms  peak {theirs.peak / 1024:6.1f} MiB")
    print(f"  secure-up  {mine.wall * 1000:7.1f} ms  peak {mine.peak / 1024:6.1f} MiB")
    print(f"  time ratio   {time_ratio:.2f}  {verdict(time_ratio, 0.5)}")
    print(f"  memory ratio {memory_ratio:.2f}  {verdict(memory_ratio, 2.0)}")


if __name__ == "__main__":
    main()

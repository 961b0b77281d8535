"""Running with secrets: secure-up against the book's recipe and sops, side by side (issue 3).

Targets:
  (a) `secure-up app` on an already-running service vs the book's
      `bash -c 'source <(sops -d secrets/environment.secrets); docker compose up -d app'`:
      time ratio at most 1.0;
  (b) `secure-up run -- true` vs `sops exec-env FILE true` on a 10-key file: at most 1.2
      (issue 15);
  (c) masking throughput with 100 secrets, on one core: at least 300 MB/s
      (bench_masking.py also measures the worst case, target 100 MB/s).
Python may cache bytecode (in a temporary directory), as it does for an installed copy.
(a) needs a Docker engine with Compose v2 (see ../shared/docker-here.md); it runs a busybox
service on the host network under a project name of its own, taken down at the end.
Run: .venv/bin/python bench/bench_run.py [--runs N] [--skip-docker] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench_masking import GOAL_MB_S, make_output, make_secrets, throughput
from common import Measurement, compare, throwaway_keyring, tool, verdict

BUSYBOX_IMAGE = "local/busybox:1"
DBPASS = "p@ss w0rd $HOME 'single' \"double\" back\\slash"
COMPOSE_FILE = f"""\
services:
  app:
    image: {BUSYBOX_IMAGE}
    network_mode: host
    environment:
      DATABASE_URL: "postgresql://wordcount_dbadmin:${{DBPASS}}@db:5432/wordcount"
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
"""


def encrypt(sops: str, env: Mapping[str, str], fingerprint: str, plain: Path, out: Path) -> None:
    """``out`` = ``plain`` encrypted by the real sops; the plaintext is removed."""
    out.write_bytes(
        subprocess.run(
            [sops, "encrypt", "--pgp", fingerprint, str(plain)],
            cwd=plain.parent,  # away from a checkout whose .sops.yaml would apply
            env=dict(env),
            check=True,
            capture_output=True,
        ).stdout
    )
    plain.unlink()


def ensure_busybox_image() -> None:
    """The tests' tiny image, imported from /bin/busybox when the engine lacks it."""
    inspect = ["docker", "image", "inspect", BUSYBOX_IMAGE]
    if subprocess.run(inspect, capture_output=True, check=False).returncode == 0:
        return
    busybox = shutil.which("busybox") or exit("busybox not found: apt-get install busybox-static")
    with tempfile.TemporaryDirectory() as root:
        Path(root, "bin").mkdir()
        shutil.copy2(busybox, Path(root, "bin", "busybox"))
        Path(root, "bin", "sleep").symlink_to("busybox")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", "ENV PATH=/bin", "-", BUSYBOX_IMAGE],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
        )
        tar.wait()


@contextmanager
def running_stack(
    sops: str, env: Mapping[str, str], fingerprint: str, directory: Path
) -> Iterator[dict[str, str]]:
    """The book's layout in ``directory``, service app up: the environment to run in."""
    ensure_busybox_image()
    (directory / "compose.yaml").write_text(COMPOSE_FILE)
    (directory / "secrets").mkdir()
    plain = directory / "secrets" / "plain.secrets"
    plain.write_text(f"export DBPASS={shlex.quote(DBPASS)}\n")
    encrypt(sops, env, fingerprint, plain, directory / "secrets" / "environment.secrets")
    stack_env = dict(env, COMPOSE_PROJECT_NAME=f"su-bench-{uuid.uuid4().hex[:8]}")
    compose = ["docker", "compose", "-f", str(directory / "compose.yaml")]
    with_value = dict(stack_env, DBPASS=DBPASS)  # the same value: app stays as it is
    subprocess.run([*compose, "up", "-d", "app"], env=with_value, check=True, capture_output=True)
    try:
        yield stack_env
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "1"], env=with_value, capture_output=True)


def bench_up(runs: int, sops: str, secure_up: str, env: Mapping[str, str], fp: str) -> float:
    """(a): both start an already-running service, from the directory of the stack."""
    with tempfile.TemporaryDirectory() as tmp, running_stack(sops, env, fp, Path(tmp)) as stack:
        book = "source <(sops -d secrets/environment.secrets); docker compose up -d app"
        previous = Path.cwd()
        os.chdir(tmp)  # both commands find compose.yaml and secrets/ here, as a user's would
        try:
            results = compare(
                runs,
                {"book": ["bash", "-c", book], "secure-up": [secure_up, "app"]},
                dict(stack, PATH=f"{Path(sops).parent}{os.pathsep}{stack['PATH']}"),
            )
        finally:
            os.chdir(previous)
    return report("(a) start a running service", results["book"], results["secure-up"], 1.0)


def bench_exec(runs: int, sops: str, secure_up: str, env: Mapping[str, str], fp: str) -> float:
    """(b): a program with the 10 values of a dotenv file in its environment."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "ten.env")
        plain.write_text("".join(f"KEY_{i}=value-{i}-some secret text\n" for i in range(10)))
        secrets = Path(tmp, "ten.enc.env")
        encrypt(sops, env, fp, plain, secrets)
        results = compare(
            runs,
            {
                "sops": [sops, "exec-env", str(secrets), "true"],
                "secure-up": [secure_up, "run", "-s", str(secrets), "--", "true"],
            },
            env,
        )
    return report("(b) run `true` with 10 values", results["sops"], results["secure-up"], 1.2)


def report(title: str, theirs: Measurement, mine: Measurement, limit: float) -> float:
    ratio = mine.wall / theirs.wall
    print(f"{title}, median of {len(mine.seconds)} runs:")
    print(f"  reference  {theirs.wall * 1000:7.1f} ms")
    print(f"  secure-up  {mine.wall * 1000:7.1f} ms")
    print(f"  time ratio {ratio:.2f}  {verdict(ratio, limit)}")
    return ratio


def bench_masking(megabytes: int) -> None:
    """(c): bench_masking.py's measurement, on output without and with secrets in it."""
    rng = random.Random(20240501)  # noqa: S311 -- benchmark data, reproducible on purpose
    secrets = make_secrets(rng)
    print(f"(c) masking {megabytes} MB of compose-like output, {len(secrets)} secrets:")
    for label, every in (("no secret in output", None), ("a secret every ~4 KiB", 4096)):
        output = make_output(rng, megabytes * 1_000_000, secrets, every)
        rate = throughput(secrets, output, chunk=65536)
        print(f"  {label:22s} {rate:6.1f} MB/s  {verdict(rate, GOAL_MB_S, at_most=False)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--skip-docker", action="store_true", help="leave out (a)")
    parser.add_argument("--quick", action="store_true", help="5 runs, 4 MB of output")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.megabytes = 5, 4
    sops, secure_up = tool("sops"), tool("secure-up")
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with throwaway_keyring() as (env, fingerprint):
        env = {name: value for name, value in env.items() if not name.startswith("SECURE_UP_")}
        if not args.skip_docker:
            bench_up(args.runs, sops, secure_up, env, fingerprint)
        bench_exec(args.runs, sops, secure_up, env, fingerprint)
    bench_masking(args.megabytes)


if __name__ == "__main__":
    main()

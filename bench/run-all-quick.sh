#!/usr/bin/env bash
# Every bench in its --quick mode (each well under a minute), tables on stdout; for CI.
# The compose bench (bench_run.py (a)) runs only when a Docker engine answers.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONPATH="$PWD/../src${PYTHONPATH:+:$PYTHONPATH}"  # this tree's secure-up
python=${PYTHON:-python3}
if [ -x ../.venv/bin/python ] && [ -z "${PYTHON:-}" ]; then python=../.venv/bin/python; fi
docker_flag=(--skip-docker)
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    docker_flag=()
fi
for bench in "bench_ci.py --quick" "bench_run.py --quick ${docker_flag[*]}" \
    "bench_decrypt.py --quick" "bench_decrypt.py --quick --growth" "bench_masking.py --quick"; do
    echo "== $bench"
    # shellcheck disable=SC2086 # the options are words on purpose
    "$python" $bench
done

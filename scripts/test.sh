#!/usr/bin/env bash
# Everything the tests need, then the tests: README's test command, and what CI runs.
#   Debian + PyPI packages (scripts/bootstrap.sh), a Docker engine with Compose v1 and v2
#   (scripts/ensure-docker.sh, stopped again at the end if this run started it), the local
#   images of the reference stack, Chromium for the browser test, then ruff, mypy --strict
#   and pytest, then every bench once in its quick mode.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

engine_was_up=0
docker info >/dev/null 2>&1 && engine_was_up=1
./scripts/ensure-docker.sh
if ((engine_was_up == 0)); then
    trap './scripts/ensure-docker.sh stop || true' EXIT
fi
./scripts/build-images.sh
./scripts/install-browser.sh

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy --strict"; mypy

echo "== pytest"
set +e
pytest "$@"
status=$?
set -e
if ((status == 5)); then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
if ((status == 0)) && [ $# -eq 0 ]; then
    # Every bench once, quickly: proves they still run and prints their tables (the
    # figures in README come from full runs; speed is judged there, not by tests).
    echo "== bench (quick)"; ./bench/run-all-quick.sh
fi
exit "$status"

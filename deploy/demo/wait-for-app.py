#!/usr/bin/env python3
"""Wait until the demo's app answers its health check; else say why it does not. Stdlib only.

    deploy/demo/wait-for-app.py http://127.0.0.1:5000 [TIMEOUT_SECONDS]

`secure-up app` returns once the containers have started, a moment before the app listens:
the demo prints its URL only when the page would work. While the database refuses the app's
login, /healthz answers 503 with the reason, which is what this prints when time runs out.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

DEFAULT_TIMEOUT_SECONDS = 60.0


def health_problem(url: str) -> str | None:
    """None when ``url/healthz`` answers 200, else what is wrong (the app's own words if any)."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5):  # noqa: S310 (the demo's URL)
            return None
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read())["error"]
        except (ValueError, KeyError, TypeError):
            reason = None
        return str(reason) if reason else f"HTTP {error.code}"
    except OSError as error:
        return f"no answer ({error})"


def main(argv: list[str]) -> int:
    if len(argv) not in {2, 3}:
        print(f"usage: {argv[0]} URL [TIMEOUT_SECONDS]", file=sys.stderr)
        return 2
    url = argv[1].rstrip("/")
    timeout = float(argv[2]) if len(argv) == 3 else DEFAULT_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    while (problem := health_problem(url)) is not None and time.monotonic() < deadline:
        time.sleep(1)
    if problem is None:
        return 0
    print(
        f"the app at {url} is not healthy after {timeout:.0f}s: {problem}\n"
        "fix: read `secure-up compose -- logs app worker migrations`",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

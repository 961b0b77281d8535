"""The RQ worker: runs wordcount.jobs.count_words for each URL queued by the web app.

Run as ``python3 -m wordcount.worker``. It refuses to start, with the reason in its log, when
the database does not accept its login: queued jobs could only fail.
"""

from __future__ import annotations

import logging
import sys

from redis import Redis
from rq import Queue, Worker

from wordcount import database
from wordcount.config import Config


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = Config()
    if not database.check_login(config.DATABASE_URL):
        return 1
    connection = Redis.from_url(config.REDIS_URL)
    queue = Queue(config.QUEUE_NAME, connection=connection)
    Worker([queue], connection=connection).work()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The job the worker runs for each submitted URL: fetch, count, store."""

from __future__ import annotations

import logging
import urllib.request
from email.message import Message

from psycopg2.extras import Json

from wordcount import counting, database
from wordcount.config import Config

log = logging.getLogger(__name__)


class FetchError(Exception):
    """The page could not be fetched; the message is stored and shown to the user."""


def _charset(headers: Message) -> str:
    return headers.get_content_charset() or "utf-8"


def fetch(url: str, timeout: float, max_bytes: int) -> str:
    """The text of a web page (http or https only), at most max_bytes of it."""
    if not url.startswith(("http://", "https://")):
        raise FetchError("only http:// and https:// URLs can be counted")
    request = urllib.request.Request(url, headers={"User-Agent": "wordcount/1"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(max_bytes)
            return body.decode(_charset(response.headers), errors="replace")
    except (OSError, ValueError) as error:
        raise FetchError(f"cannot fetch {url}: {error}") from None


def _set_status(database_url: str, result_id: int, status: str) -> None:
    with database.transaction(database_url) as cursor:
        cursor.execute("UPDATE results SET status = %s WHERE id = %s", (status, result_id))


def count_words(result_id: int) -> None:
    """Fill in row result_id of table results with the top words of its URL."""
    config = Config()
    _set_status(config.DATABASE_URL, result_id, "started")
    with database.transaction(config.DATABASE_URL) as cursor:
        cursor.execute("SELECT url FROM results WHERE id = %s", (result_id,))
        (url,) = cursor.fetchone()
    try:
        page = fetch(url, config.FETCH_TIMEOUT_SECONDS, config.FETCH_MAX_BYTES)
    except FetchError as error:
        log.warning("result %s: %s", result_id, error)
        with database.transaction(config.DATABASE_URL) as cursor:
            cursor.execute(
                "UPDATE results SET status = 'failed', error = %s, finished_at = now() "
                "WHERE id = %s",
                (str(error), result_id),
            )
        return
    all_words = counting.words(counting.visible_text(page))
    top = counting.top_words(all_words, config.TOP_WORDS)
    with database.transaction(config.DATABASE_URL) as cursor:
        cursor.execute(
            "UPDATE results SET status = 'finished', word_counts = %s, total_words = %s, "
            "finished_at = now() WHERE id = %s",
            (Json(top), len(all_words), result_id),
        )
    log.info("result %s: %d words in %s", result_id, len(all_words), url)

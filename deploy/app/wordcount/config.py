"""Settings classes named by APP_SETTINGS (e.g. ``wordcount.config.DevelopmentConfig``).

Connection URLs come from the environment that Compose gives the container; DATABASE_URL holds
the database password, so nothing here logs or renders it.
"""

from __future__ import annotations

import os


class Config:
    """Production defaults."""

    DEBUG = False
    DATABASE_URL = os.environ.get("DATABASE_URL", "")
    REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    QUEUE_NAME = "wordcount"
    TOP_WORDS = 20
    FETCH_TIMEOUT_SECONDS = 10
    FETCH_MAX_BYTES = 2 * 1024 * 1024


class ProductionConfig(Config):
    """The default."""


class DevelopmentConfig(Config):
    """Flask's debug mode: never where the stack is reachable by others."""

    DEBUG = True


DEFAULT_SETTINGS = "wordcount.config.ProductionConfig"


def settings_name() -> str:
    """The settings class the environment asks for."""
    return os.environ.get("APP_SETTINGS", DEFAULT_SETTINGS)

"""Gunicorn settings (read from the working directory): address and port from the environment."""

import os

bind = [f"{os.environ.get('LISTEN_HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"]  # noqa: S104
workers = int(os.environ.get("WEB_WORKERS", "2"))
accesslog = "-"

"""The book's word-count app: a Flask page, an RQ worker and a PostgreSQL table of results."""

"""The audit trail: one JSON line per command that decrypts or changes a secret.

:mod:`record` collects what a run touched (files, keys, variable names) while it
runs; :mod:`log` appends the line, chained by hashes, and verifies and reads the log.
"""

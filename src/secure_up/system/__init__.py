"""The operating system, fenced: processes, signals, locks, atomic writes, tmpfs.

``process`` is the only module that spawns or execs programs."""

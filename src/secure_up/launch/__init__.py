"""The run path: from compose files and secrets files to a child process.

Plan (``compose``, ``variables``), decrypt (``secrets_loader``), check
(``preflight``), then hand the values to exactly one process with its output
masked (``masking``; the spawning itself is ``system.process``)."""

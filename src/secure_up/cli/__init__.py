"""The command line: Typer's app (help, options, usage errors) and the fast path."""

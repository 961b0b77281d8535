"""What each command does, one module per family; :mod:`secure_up.cli.app` only parses."""

"""Changing a secret by hand: where a new value comes from, and the editor session."""

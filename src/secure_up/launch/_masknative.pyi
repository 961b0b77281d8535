# The native routine of launch/masking.py (_masknative.c): see the comment at its top.

class Automaton:
    def __init__(
        self, keys: list[bytes], forms: tuple[bytes, ...], entries: list[list[tuple[int, int]]]
    ) -> None: ...
    def scan(
        self, buffer: bytes, grown: list[tuple[int, int, int]]
    ) -> tuple[bytes, list[tuple[int, int, int]], int]: ...

def render(
    buffer: bytes,
    components: bytes,
    extra: list[tuple[int, int]],
    decided: int,
    open_until: int,
    replacement: bytes,
) -> tuple[bytes, int]: ...

"""Encrypting and decrypting whole documents, and the MAC that seals them.

The walk mirrors sops exactly, because both the AAD of every value and the
MAC depend on it: keys are visited in document order, a value's path is the
list of mapping keys above it (list indexes do not count), and comments are
gathered per nesting level for the comment rules. The MAC is SHA-512 over the
plaintext bytes of every leaf (comments and nulls skipped), stored encrypted
with ``lastmodified`` as its AAD.
"""

from __future__ import annotations

from _operator import _compare_digest as bytes_eq  # hmac.compare_digest, without hashlib
from collections.abc import Callable
from typing import Final

from cryptography.hazmat.primitives.hashes import SHA512, Hash

from secure_up.errors import FormatError, IntegrityError, MacNotFoundError
from secure_up.sops.cipher import (
    ENC_PREFIX,
    Plaintext,
    ValueCipher,
    looks_encrypted,
    plaintext_bytes,
)
from secure_up.sops.metadata import Metadata
from secure_up.sops.rules import CommentStack, EncryptionRule
from secure_up.sops.tree import Branch, Comment, Documents, Node, Sequence

#: sha256(b"sops"): the MAC starts with it when only encrypted values are hashed.
MAC_ONLY_ENCRYPTED_INIT: Final = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)

#: What to do with one leaf: (value, path, is it encrypted?) -> new value.
LeafVisitor = Callable[[Plaintext, list[str], bool], Plaintext]

_FIX_RESTORE = "restore the file from version control; never edit ENC[...] values by hand"


class _Walker:
    """Visits every leaf and comment of a tree in sops' order, rebuilding the tree."""

    def __init__(
        self,
        rule: EncryptionRule,
        visit: LeafVisitor,
        on_null: Callable[[list[str], bool], None] | None = None,
        open_string: Callable[[str, str], Plaintext] | None = None,
        open_map: _MapOpener | None = None,
    ) -> None:
        self._rule = rule
        self._visit = visit
        self._on_null = on_null  # nulls are no leaves (never encrypted nor hashed)
        #: For an ``ENC[...]`` string under a map that the rule encrypts, in place of
        #: ``visit``: (value, its AAD) -> plaintext. The hot path of a decryption.
        self._open_string = open_string
        #: For a map of nothing but such strings, all opened at once (_flat_map_opener).
        self._open_map = open_map

    def branch(self, branch: Branch, path: list[str], stack: CommentStack) -> Branch:
        stack = [*stack, []]
        level = stack[-1]
        out = Branch()
        append = out.append
        should_encrypt, visit = self._rule.should_encrypt, self._visit
        open_string = self._open_string
        encrypts = self._rule.for_keys_under(path, stack)  # None: ask per key (comment rules)
        aad_prefix = _aad(path) if path else ""  # a child's AAD: this, its key and ":"
        if self._open_map is not None and encrypts is not None:
            opened = self._open_map(branch, aad_prefix, encrypts)
            if opened is not None:
                return opened
        # An ENC[...] string opened at once when this is set (every name bound locally:
        # this loop runs for every key of a file, 10,000 in a large one).
        enc_prefix = ENC_PREFIX if open_string is not None else None
        for entry in branch:
            if isinstance(entry, Comment):
                level.append(entry.text)
                append(_as_comment(self._leaf(entry, path, stack, is_comment=True), path))
                continue
            key, value = entry
            if isinstance(value, str):  # the common case, kept on a short path
                encrypted = (
                    encrypts(key)
                    if encrypts is not None
                    else should_encrypt([*path, key], stack, False)
                )
                if encrypted and enc_prefix is not None and value.startswith(enc_prefix):
                    leaf = open_string(value, aad_prefix + key + ":")  # type: ignore[misc]
                else:
                    leaf = visit(value, [*path, key], encrypted)
                append((key, leaf))  # type: ignore[arg-type]  # a map value is never a comment
            else:
                append((key, self.value(value, [*path, key], stack)))
            if level:
                level.clear()
        return out

    def sequence(self, sequence: Sequence, path: list[str], stack: CommentStack) -> Sequence:
        stack = [*stack, []]
        level = stack[-1]
        out = Sequence()
        for element in sequence:
            if isinstance(element, Comment):
                level.append(element.text)
                # Kept as the visit returns it, as sops' walkSlice does: an encrypted
                # comment becomes a plain `- ENC[...,type:comment]` element.
                out.append(self._leaf(element, path, stack, is_comment=True))
                continue
            out.append(self.value(element, path, stack))
            level.clear()
        return out

    def value(self, value: Node, path: list[str], stack: CommentStack) -> Node:
        if isinstance(value, Branch):
            return self.branch(value, path, stack)
        if isinstance(value, Sequence):
            return self.sequence(value, path, stack)
        if value is None:
            if self._on_null is not None:
                self._on_null(path, self._rule.should_encrypt(path, stack, False))
            return None
        return self._leaf(value, path, stack, is_comment=False)  # type: ignore[return-value]

    def _leaf(
        self, value: Plaintext, path: list[str], stack: CommentStack, *, is_comment: bool
    ) -> Plaintext:
        encrypted = self._rule.should_encrypt(path, stack, is_comment)
        return self._visit(value, path, encrypted)


#: (map, its children's AAD prefix, which keys the rule encrypts) -> the map opened, or None.
_MapOpener = Callable[[Branch, str, Callable[[str], bool]], Branch | None]

#: Values opened per call of ValueCipher.open_many: bounds the lists it makes on the way.
_OPEN_AT_ONCE: Final = 4096


def _flat_map_opener(cipher: ValueCipher, hashed: Callable[[list[bytes]], object]) -> _MapOpener:
    """Opens a map whose every entry is an encrypted ``ENC[...]`` string, all at once.

    The common file (a dotenv file, a flat YAML or JSON map) is such a map, and this
    is its whole decryption: :meth:`ValueCipher.open_many` and two C-level passes
    instead of a step of the walk per key. Anything else — a comment, a nested value,
    a key left in clear, a value that does not open — is None, with nothing hashed:
    the walk then goes key by key, and that path names whatever is wrong.
    """

    def open_flat(
        branch: Branch, aad_prefix: str, encrypts: Callable[[str], bool]
    ) -> Branch | None:
        try:
            keys, values = zip(*branch, strict=True)  # a comment is no (key, value) pair
        except (TypeError, ValueError):
            return None
        if not all(map(encrypts, keys)):
            return None
        opened: list[Plaintext] = []
        raw: list[bytes] = []
        for start in range(0, len(keys), _OPEN_AT_ONCE):
            end = start + _OPEN_AT_ONCE
            aads = [f"{aad_prefix}{key}:" for key in keys[start:end]]
            part = cipher.open_many(values[start:end], aads)
            if part is None:
                return None
            opened += part[0]
            raw += part[1]
        hashed(raw)
        return Branch(zip(keys, opened, strict=True))  # type: ignore[arg-type]  # no comment

    return open_flat


def _as_comment(value: Plaintext, path: list[str]) -> Comment:
    """What sops' walkBranch keeps of a visited comment: a comment, or its (encrypted) text."""
    if isinstance(value, Comment):
        return value
    if isinstance(value, str):
        return Comment(value)
    raise FormatError(
        f"a comment at {_where(path)} holds an encrypted {type(value).__name__}, not text",
        _FIX_RESTORE,
    )


def _aad(path: list[str]) -> str:
    return ":".join(path) + ":"


def _where(path: list[str]) -> str:
    return ":".join(path) or "(top level)"


class _MacHasher:
    """SHA-512 of the plaintext bytes, in order, by cryptography (loaded already).

    The bytes are gathered and hashed in one call at the end: one Python call per
    value (10,000 in a large file) costs more than the hashing. They are the
    plaintexts the decrypted tree holds anyway; a single large value (a binary
    file) is hashed as it is, not copied. Not hashlib: it would load the system's
    OpenSSL as well, about 2 ms of every run.
    """

    def __init__(self, mac_only_encrypted: bool) -> None:
        self.only_encrypted = mac_only_encrypted
        self._parts: list[bytes] = [MAC_ONLY_ENCRYPTED_INIT] if mac_only_encrypted else []
        #: An encrypted leaf's plaintext bytes (always hashed): the list's own method,
        #: without a Python call around it, as it runs for every value.
        self.add_bytes: Callable[[bytes], None] = self._parts.append
        #: Many such plaintexts, in order.
        self.add_all_bytes: Callable[[list[bytes]], None] = self._parts.extend

    def add(self, value: Plaintext, encrypted: bool) -> None:
        if isinstance(value, Comment) or (self.only_encrypted and not encrypted):
            return
        self._parts.append(plaintext_bytes(value))

    def hexdigest(self) -> str:
        digest = Hash(SHA512())
        digest.update(b"".join(self._parts))
        self._parts.clear()
        return digest.finalize().hex().upper()


def decrypt_documents(
    documents: Documents,
    metadata: Metadata,
    cipher: ValueCipher,
    *,
    verify_mac: bool = True,
    unauthenticated: list[list[str]] | None = None,
) -> Documents:
    """The plaintext of ``documents``; checks the MAC unless told not to.

    Raises :class:`IntegrityError` (exit 51) on any tampering. Nothing is
    returned before the whole file has been authenticated. Empty and null
    values that the rule would encrypt are in clear in any sops file (sops
    writes them so) and add nothing to the MAC: their paths are appended to
    ``unauthenticated``, for callers that must not trust them.
    """
    hasher = _MacHasher(metadata.mac_only_encrypted)
    # Called for every value (10,000 in a large file): one frame that hashes as it opens.
    open_string = cipher.opener(hasher.add_bytes)

    def visit(value: Plaintext, path: list[str], encrypted: bool) -> Plaintext:
        if encrypted and isinstance(value, str) and value.startswith(ENC_PREFIX):
            return open_string(value, _aad(path))
        if encrypted:
            if value == "" and unauthenticated is not None:
                unauthenticated.append(path)
            value = _decrypt_leaf(cipher, value, path)
        hasher.add(value, encrypted)
        return value

    def null_seen(path: list[str], encrypted: bool) -> None:
        if encrypted and unauthenticated is not None:
            unauthenticated.append(path)

    open_map = _flat_map_opener(cipher, hasher.add_all_bytes)
    walker = _Walker(metadata.effective_rule, visit, null_seen, open_string, open_map)
    plain = [walker.branch(document, [], []) for document in documents]
    if verify_mac:
        _verify_mac(metadata, cipher, hasher.hexdigest())
    return plain


def _decrypt_leaf(cipher: ValueCipher, value: Plaintext, path: list[str]) -> Plaintext:
    if isinstance(value, Comment):
        # Comments written by sops before 3.0 are in clear text: keep them. Like sops, keep
        # a comment that does not decrypt as it is: sops' YAML writer can move a comment to
        # another nesting level (its AAD), and comments are outside the MAC anyway.
        if not looks_encrypted(value.text):
            return value
        try:
            return cipher.decrypt(value.text, _aad(path))
        except (IntegrityError, FormatError):
            import logging  # only here: about 5 ms of start-up otherwise

            logging.getLogger(__name__).warning(
                "a comment at %s does not decrypt (sops' YAML writer may have moved it to "
                "another nesting level); it is kept in its encrypted form",
                _where(path),
            )
            return value
    if value == "":
        return value
    if not looks_encrypted(value):
        raise IntegrityError(
            f"the value at {_where(path)} is in clear text although this file's rule says it "
            "must be encrypted: it was added or edited by hand",
            "restore the file from version control, or set values with `secure-up set`",
        )
    return cipher.decrypt(value, _aad(path))  # type: ignore[arg-type]


def _verify_mac(metadata: Metadata, cipher: ValueCipher, computed: str) -> None:
    if not metadata.mac:
        raise MacNotFoundError(
            "the file has no MAC, so its integrity cannot be checked",
            "restore it from version control, or pass --ignore-mac if you trust it",
        )
    try:
        stored = cipher.decrypt(metadata.mac, metadata.mac_aad())
    except IntegrityError:
        raise IntegrityError(
            "the file's MAC does not authenticate: its lastmodified time or the MAC was altered",
            _FIX_RESTORE,
        ) from None
    except FormatError:
        raise IntegrityError("the file's MAC is malformed", _FIX_RESTORE) from None
    if not isinstance(stored, str) or not bytes_eq(stored.encode(), computed.encode()):
        raise IntegrityError(
            "MAC mismatch: values were added, removed, reordered or swapped since the file "
            "was last written",
            _FIX_RESTORE + " (or pass --ignore-mac to read it anyway)",
        )


def encrypt_documents(documents: Documents, metadata: Metadata, cipher: ValueCipher) -> Documents:
    """The encrypted form of plaintext ``documents``; sets the MAC and ``lastmodified``.

    Values the cipher saw when the file was decrypted keep their IV, so their
    ciphertext does not change.
    """
    hasher = _MacHasher(metadata.mac_only_encrypted)

    def visit(value: Plaintext, path: list[str], encrypted: bool) -> Plaintext:
        hasher.add(value, encrypted)
        if not encrypted or value == "":
            return value
        # An encrypted comment is returned as text, as sops' cipher returns it: the walker
        # keeps a comment in a mapping but a plain element in a list (see _Walker).
        return cipher.encrypt(value, _aad(path))

    walker = _Walker(metadata.effective_rule, visit)
    encrypted = [walker.branch(document, [], []) for document in documents]
    metadata.touch()
    metadata.mac = cipher.encrypt(hasher.hexdigest(), metadata.mac_aad())
    return encrypted

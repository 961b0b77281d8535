"""One sops file, the only way in: read, decrypt, edit, re-key and write it.

Commands call this package; only it reaches into ``sops/`` (the format) and
``keys/`` (master keys). ``file`` reads, decrypts and encrypts a whole file;
``edits`` and ``shell_payload`` change one value; ``recipients`` and ``rekey``
change who can open it; ``extract`` picks one value out; ``config`` reads
``.sops.yaml`` creation rules.
"""

from secure_up.sopsfile.file import DecryptedFile, EncryptedFile, encrypt_new, read_input

__all__ = ["DecryptedFile", "EncryptedFile", "encrypt_new", "read_input"]

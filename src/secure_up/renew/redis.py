"""The ``redis`` applier: ``CONFIG SET requirepass`` or ``ACL SETUSER``, over redis-cli's stdin.

redis-cli reads commands from stdin when it is not a terminal, so the values
never reach its argv. Each value is written as a quoted string of ``\\xHH``
escapes (redis-cli's own quoting), so no byte of it can end or split the command.
Note: ``CONFIG SET`` lasts until Redis restarts; a Redis that takes its password
from the compose file (``--requirepass ${VAR}``) gets the new value from it then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secure_up.renew.interface import ApplierError, ServiceShell

_REFUSED = ("WRONGPASS", "invalid password", "invalid username-password")


def quoted(value: str) -> str:
    """``value`` as one redis-cli argument: every byte a ``\\xHH`` escape in double quotes."""
    return '"' + "".join(f"\\x{byte:02x}" for byte in value.encode("utf-8")) + '"'


class RedisApplier:
    kind = "redis"

    def __init__(self, shell: ServiceShell, service: str, options: Mapping[str, Any]) -> None:
        self._shell = shell
        self.service = service
        self._user: str | None = options.get("user")
        self._host = str(options.get("host", "127.0.0.1"))
        self._port = str(options.get("port", "6379"))

    def describe(self) -> str:
        target = f"ACL SETUSER {self._user}" if self._user else "CONFIG SET requirepass"
        return f"redis in {self.service}: {target}"

    def preflight(self, old: str, new: str) -> None:
        if self._auth(old) is not True and self._auth(new) is not True:
            raise ApplierError(
                f"{self.service}: Redis accepts neither the current value nor the new one",
                f"check that {self.service} runs and uses the secrets file's value",
            )

    def apply(self, old: str, new: str) -> None:
        self._change(old, new, "set the new password")

    def revert(self, old: str, new: str) -> None:
        outcome = self._session(new, self._change_command(new, old))
        if outcome is not True and outcome is not False:  # False: it never held the new one
            raise ApplierError(
                f"{self.service}: could not put back the old password ({outcome})",
                f"check that {self.service} runs: `secure-up compose -- ps {self.service}`",
            )

    def _change_command(self, frm: str, to: str) -> str:
        if self._user:
            return f"ACL SETUSER {self._user} {quoted('>' + to)} {quoted('<' + frm)}"
        return f"CONFIG SET requirepass {quoted(to)}"

    def verify(self, old: str, new: str) -> None:
        if self._auth(new) is not True:
            raise ApplierError(f"{self.service}: AUTH with the new value failed")
        if self._auth(old) is not False:
            raise ApplierError(f"{self.service}: AUTH with the old value still succeeds")

    def _change(self, frm: str, to: str, action: str) -> None:
        outcome = self._session(frm, self._change_command(frm, to))
        if outcome is True:
            return
        if outcome is False and self._auth(to) is True:
            return  # done already (a resumed run)
        raise ApplierError(
            f"{self.service}: could not {action}: neither the old nor the new value is accepted"
            + ("" if outcome is False else f" ({outcome})"),
            f"check that {self.service} runs: `secure-up compose -- ps {self.service}`",
        )

    def _auth(self, password: str) -> bool | str:
        return self._session(password, "PING")

    def _session(self, password: str, command: str) -> bool | str:
        auth = f"AUTH {self._user} {quoted(password)}" if self._user else f"AUTH {quoted(password)}"
        result = self._shell.exec(
            self.service,
            ["redis-cli", "-h", self._host, "-p", self._port],
            stdin=f"{auth}\n{command}\n".encode(),
        )
        replies = [line.strip() for line in result.output.splitlines() if line.strip()]
        if result.code != 0 and not replies:
            return f"redis-cli exit {result.code}"
        if replies and any(text in replies[0] for text in _REFUSED):
            return False
        if replies[:1] == ["OK"] and len(replies) >= 2 and replies[1] in ("OK", "PONG"):
            return True
        return replies[-1][:200] if replies else f"redis-cli exit {result.code}"

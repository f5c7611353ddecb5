"""Throttling of failed logins per account and per address (SPEC §7).

After FREE_FAILURES failures within WINDOW seconds, each further attempt must wait a delay
that doubles per failure (capped); an attempt during the delay is answered 429 without
checking the password. A success clears the account's record. Kept in memory per process.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

FREE_FAILURES = 5
WINDOW = 15 * 60.0
MAX_DELAY = 15 * 60.0
MAX_ENTRIES = 100_000  # bounded memory under a spray of addresses


@attrs.define
class _Record:
    failures: int = 0
    first: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        return f"account:{email.lower()}", f"address:{address}"

    def retry_after(self, email: str, address: str) -> float:
        """Seconds to wait before another attempt is allowed (0: go ahead)."""
        now = self._clock()
        waits = [r.blocked_until - now for k in self._keys(email, address)
                 if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, email: str, address: str) -> None:
        now = self._clock()
        if len(self._records) >= MAX_ENTRIES:
            self._records = {k: r for k, r in self._records.items() if now - r.first < WINDOW}
        for key in self._keys(email, address):
            r = self._records.get(key)
            if r is None or now - r.first > WINDOW:
                r = self._records[key] = _Record(first=now)
            r.failures += 1
            if r.failures >= FREE_FAILURES:
                r.blocked_until = now + min(2.0 ** (r.failures - FREE_FAILURES), MAX_DELAY)

    def succeeded(self, email: str) -> None:
        self._records.pop(self._keys(email, "")[0], None)

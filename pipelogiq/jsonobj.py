"""Reading a JSON object the way every API body is read: keys match case-insensitively,
`null` means absent, and errors name the field's path."""

from __future__ import annotations

from typing import Any


class JsonObject:
    """Subclasses set `error` to the exception their callers turn into a 400."""

    error: type[Exception] = ValueError

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise self.error(f"{where}: expected an object")
        self._data = {str(k).lower(): v for k, v in raw.items()}
        self.where = where

    def get(self, name: str) -> Any:
        return self._data.get(name.lower())

    def path(self, name: str) -> str:
        return f"{self.where}.{name}"

"""Request JSON as the SDKs send it: keys match case-insensitively (camelCase and the .NET
SDK's PascalCase), unknown keys are ignored, `null` means absent, a wrong type is a 400."""

from __future__ import annotations

import json
import math
from typing import Any

from pipelogiq.http.errors import ApiError

MAX_INT = 2**63 - 1  # what the databases store; larger ids cannot exist


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # one, not one per request


class Body:
    def __init__(self, data: Any, where: str = "body") -> None:
        if not isinstance(data, dict):
            raise ApiError(400, f"{where} must be a JSON object")
        self._data = {str(k).lower(): v for k, v in data.items()}
        self.where = where

    @classmethod
    def parse(cls, raw: bytes) -> Body:
        if not raw.strip():
            return cls({})
        try:
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads
            return cls(_DECODER.decode(text))
        except RecursionError:
            raise ApiError(400, "malformed JSON: nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None

    def raw(self, name: str) -> Any:
        return self._data.get(name.lower())

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def _where(self, name: str) -> str:
        return name if self.where == "body" else f"{self.where}.{name}"

    def _bad(self, name: str, expected: str) -> ApiError:
        return ApiError(400, f"{self._where(name)}: expected {expected}")

    def _missing(self, name: str) -> ApiError:
        return ApiError(400, f"{self._where(name)} is required")

    def string(self, name: str, *, required: bool = False, max_len: int = 10_000) -> str | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise self._missing(name)
            return None
        if not isinstance(v, str):
            raise self._bad(name, "a string")
        if required and not v.strip():
            raise self._missing(name)
        if len(v) > max_len:
            raise ApiError(400, f"{self._where(name)}: longer than {max_len} characters")
        return v

    def text(self, name: str) -> str | None:
        """A string field that also takes a number or a JSON value (serialised as text)."""
        v = self.raw(name)
        if v is None or isinstance(v, str):
            return v
        return json.dumps(v)

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        v = self.raw(name)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self._bad(name, "true or false")
        return v

    def integer(self, name: str, *, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int | None:
        v = self.raw(name)
        if v is None:
            return default
        if (isinstance(v, bool) or not isinstance(v, int | float)
                or (isinstance(v, float) and (not math.isfinite(v) or int(v) != v))):
            raise self._bad(name, "an integer")
        if hi is None and abs(v) > MAX_INT:
            raise ApiError(400, f"{self._where(name)}: out of range")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ApiError(400, f"{self._where(name)}: must be between {lo} and {hi}")
        return int(v)

    def number(self, name: str, *, default: float | None = None, lo: float | None = None,
               hi: float | None = None) -> float | None:
        v = self.raw(name)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self._bad(name, "a finite number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ApiError(400, f"{self._where(name)}: must be between {lo} and {hi}")
        return float(v)

    def array(self, name: str, *, required: bool = False, max_items: int = 10_000) -> list[Any] | None:
        v = self.raw(name)
        if v is None:
            if required:
                raise self._missing(name)
            return None
        if not isinstance(v, list):
            raise self._bad(name, "an array")
        if len(v) > max_items:
            raise ApiError(400, f"{self._where(name)}: more than {max_items} items")
        return v

    def objects(self, name: str, *, required: bool = False, max_items: int = 10_000) -> list[Body]:
        items = self.array(name, required=required, max_items=max_items) or []
        return [Body(item, f"{name}[{i}]") for i, item in enumerate(items)]

    def obj(self, name: str) -> Body | None:
        v = self.raw(name)
        return None if v is None else Body(v, name)

    def json(self, name: str) -> Any:
        return self.raw(name)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

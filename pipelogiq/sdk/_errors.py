"""Exceptions raised by the SDK, and the ones a job handler may raise."""

from __future__ import annotations


class PipelogiqError(Exception):
    """The external API answered with a non-2xx status.

    ``status_code`` is the HTTP status; ``message`` is the server's (``text/plain``) error text.
    Network failures are not wrapped: they surface as :class:`httpx.TransportError`.
    """

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.message}"


class AuthError(PipelogiqError):
    """The API key or worker session was missing, invalid, expired or disabled (401/403)."""


class HandlerError(Exception):
    """Base of the exceptions a job handler raises to control how its failure is reported.

    ``retryable`` is sent as the ack's ``retryable`` flag (``None`` leaves the decision to the
    stage options) and ``error_code`` as its ``errorCode`` (matched by retry policies).
    """

    retryable: bool | None = None

    def __init__(self, message: str = "", *, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class RetryableError(HandlerError):
    """The attempt failed but may succeed later: report ``retryable: true``."""

    retryable = True


class FatalError(HandlerError):
    """The attempt failed for good: report ``retryable: false`` so no retry is scheduled."""

    retryable = False

"""Pipelogiq Python SDK: create pipelines and run workers against the external API.

Light on purpose: it needs only httpx, anyio and attrs (nothing of the server stack), and works
from plain blocking code (:class:`Client`, :class:`Worker`) or async code under Trio or asyncio
(:class:`AsyncClient`, :class:`AsyncWorker`).

- :class:`Client` / :class:`AsyncClient`: ``create_pipeline`` (with :class:`Stage`) and
  ``send_log``, authenticated by an application API key.
- :class:`Worker` / :class:`AsyncWorker`: register handlers with ``@worker.handler("name")``;
  a handler receives a :class:`Job` and returns ``None``, a string, a JSON value or a
  :class:`Result`, or raises (:class:`RetryableError` / :class:`FatalError` choose whether the
  failure may be retried).
- Non-2xx answers raise :class:`PipelogiqError` (:class:`AuthError` for 401/403).
"""

from ._errors import AuthError, FatalError, HandlerError, PipelogiqError, RetryableError
from ._wire import SDK_VERSION, Stage
from .client import AsyncClient, Client
from .job import Job, Result
from .worker import AsyncWorker, Worker

__version__ = SDK_VERSION

__all__ = [
    "AsyncClient",
    "AsyncWorker",
    "AuthError",
    "Client",
    "FatalError",
    "HandlerError",
    "Job",
    "PipelogiqError",
    "Result",
    "RetryableError",
    "Stage",
    "Worker",
]

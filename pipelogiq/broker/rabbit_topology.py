"""RabbitMQ names, declare arguments and the errors of the broker bridge (SPEC §5). Pure.

Every name starts with `RABBIT_NAME_PREFIX`, so several deployments (or tests) share a broker.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from pipelogiq.broker.base import queue_name
from pipelogiq.config import Settings

DLQ_SUFFIX = ".dlq"


class BrokerUnavailable(ConnectionError):
    """RabbitMQ cannot be reached (or did not confirm) within the bound the caller has."""


class PublishFailed(RuntimeError):
    """The broker refused a message (a negative confirm): it was not stored."""


class TopologyMismatch(RuntimeError):
    """A queue or exchange exists with other settings than ours (PRECONDITION_FAILED).

    Retrying cannot help, so this is raised once, naming the object and the setting."""

    def __init__(self, kind: str, name: str, setting: str, detail: str) -> None:
        self.kind, self.name, self.setting, self.detail = kind, name, setting, detail
        super().__init__(
            f"RabbitMQ {kind} {name!r} already exists with a different {setting!r} "
            f"({detail}). {_hint(setting)}"
        )


def _hint(setting: str) -> str:
    if setting.startswith("x-dead-letter"):
        return ("RABBIT_DLQ_ENABLED must match how the queue was first declared: set it back, "
                "or delete the queue (after draining it) so it is declared again.")
    return ("Something else declared it with other settings: delete it (after draining it) or "
            "choose another RABBIT_NAME_PREFIX.")


_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<setting>[^']+)' for (?P<kind>queue|exchange) '(?P<name>[^']*)'"
    r"[^:]*:\s*(?P<detail>.*)$"
)


def mismatch_from_reply(reply_text: str, kind: str, name: str) -> TopologyMismatch:
    """Turn a PRECONDITION_FAILED reply ("inequivalent arg 'durable' for queue 'q' in vhost
    '/': received 'false' but current is 'true'") into a `TopologyMismatch`."""
    m = _INEQUIVALENT.search(reply_text)
    if m is None:
        return TopologyMismatch(kind, name, "arguments", reply_text)
    return TopologyMismatch(m["kind"], m["name"], m["setting"], m["detail"].strip())


def dlq_name(queue: str) -> str:
    return queue + DLQ_SUFFIX


def is_dlq(queue: str) -> bool:
    return queue.endswith(DLQ_SUFFIX)


@attrs.frozen
class RabbitConfig:
    """What the bridge needs of `Settings`."""

    url: str
    prefix: str = ""
    app_id: str = "pipelogiq"
    dlq_enabled: bool = False
    prefetch: int = 50
    connection_name: str = "pipelogiq"

    @classmethod
    def from_settings(cls, settings: Settings, role: str = "pipelogiq") -> RabbitConfig:
        if settings.rabbitmq_url is None:
            raise ValueError("RABBITMQ_URL is not set: the in-process broker is used instead")
        return cls(
            url=settings.rabbitmq_url,
            prefix=settings.rabbit_name_prefix,
            app_id=settings.app_id,
            dlq_enabled=settings.rabbit_dlq_enabled,
            prefetch=settings.rabbit_prefetch,
            connection_name=f"{role} {settings.rabbit_name_prefix}{settings.app_id}",
        )

    def job_queue(self, application_id: int, handler: str) -> str:
        return queue_name(self.prefix, self.app_id, application_id, handler)

    @property
    def stage_result(self) -> str:
        return f"{self.prefix}StageResult"

    @property
    def stage_set_status(self) -> str:
        return f"{self.prefix}StageSetStatus"

    @property
    def updates_exchange(self) -> str:
        return f"{self.prefix}StageUpdated.fanout"

    @property
    def engine_wakes(self) -> str:
        """The engines' shared queue of wake-ups (pipeline ids) from API replicas."""
        return f"{self.prefix}{self.app_id}.engine.wake"

    def update_queue(self, tag: str) -> str:
        """A per-subscriber exclusive queue bound to the updates exchange."""
        return f"{self.prefix}StageUpdated.{tag}"

    def queue_arguments(self, queue: str) -> dict[str, Any]:
        """Declare arguments of a durable queue: dead-lettering into `<queue>.dlq` when enabled
        (through the default exchange); a DLQ itself never dead-letters, so nothing loops."""
        if not self.dlq_enabled or is_dlq(queue):
            return {}
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq_name(queue)}

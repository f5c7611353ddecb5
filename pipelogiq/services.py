"""What the HTTP apps are given: the objects the composition root built."""

from __future__ import annotations

import attrs
import trio

from pipelogiq.actors.engine import Engine
from pipelogiq.actors.hub import Hub
from pipelogiq.alerts import AlertEmitter
from pipelogiq.clock import Clock
from pipelogiq.config import Settings
from pipelogiq.store.interface import Store


@attrs.define
class Services:
    settings: Settings
    clock: Clock
    store: Store
    engine: Engine
    hub: Hub
    jwt_secret: str
    closing: trio.Event = attrs.field(factory=trio.Event)
    alerter: AlertEmitter = attrs.field(factory=AlertEmitter)

"""Policy enforcement, the pure part (SPEC §6): which active policies act on a stage, the
shared rate-limit arithmetic, retry backoff and the circuit breaker's state machine.

The store runs these inside its transactions, so every engine replica reads and writes the
same budgets: the database is where a rate limit's and a breaker's state live. Nothing here
does I/O, reads a clock or draws random numbers (`now` and `rand` are passed in).

- Rate limit: GCRA, the token bucket written as one number per key, the *theoretical arrival
  time* (TAT). Emission interval T = windowSeconds / limit; burst b (default: limit) lets b
  dispatches through back to back. A dispatch at `now` gets the slot max(now, TAT - (b-1)·T)
  and moves TAT to max(TAT, now) + T. A stage whose slot is in the future *reserves* it and
  waits for it (its `held_until`), so waiting stages are served in order without retrying.
- Retry: `maxAttempts` counts every attempt (retries = maxAttempts - 1); retry n waits
  baseDelayMs (fixed) or baseDelayMs·2^(n-1) (exponential), capped at maxDelayMs; jitter j
  (true = 0.5) draws the delay uniformly from [d·(1-j), d]; `retryOn.errorCodes`, when given,
  retries only the listed error codes.
- Circuit breaker (per policy and handler): `closed` → `open` after failureThreshold failed
  attempts within windowSeconds; while open dispatch waits until openSeconds have passed; then
  `half_open` lets halfOpenMaxCalls trial dispatches through: that many successes close it,
  one failure opens it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pipelogiq.policies import StageFacts, Targeting, matches, parse_targeting

JITTER_TRUE = 0.5
SLOT_EPSILON = 1e-6  # epoch seconds carry ~2.4e-7 s of float resolution


@attrs.frozen
class ActivePolicy:
    id: int
    version: int
    name: str
    policy_type: str
    rules: Mapping[str, Any]
    targeting: Targeting
    application_id: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ActivePolicy:
        return cls(int(row["id"]), int(row["version"]), str(row["name"]), str(row["policy_type"]),
                   json.loads(row["rules"]), parse_targeting(json.loads(row["targeting"])),
                   None if row["application_id"] is None else int(row["application_id"]))


def acting(policies: Iterable[ActivePolicy], policy_type: str, facts: StageFacts,
           application_id: int) -> list[ActivePolicy]:
    """The active policies of `policy_type` that target this stage, oldest first."""
    return sorted(
        (p for p in policies
         if p.policy_type == policy_type
         and (p.application_id is None or p.application_id == application_id)
         and matches(p.targeting, facts)),
        key=lambda p: p.id,
    )


# -- rate limit ------------------------------------------------------------------------------

def rate_key(rules: Mapping[str, Any], application_id: int, handler: str, pipeline_id: int,
             context: Mapping[str, str]) -> str:
    """The bucket a stage draws from, by the rule's `keyBy`."""
    match rules.get("keyBy"):
        case "tenant":
            return f"tenant:{application_id}"
        case "handler":
            return f"handler:{application_id}:{handler}"
        case "pipeline":
            return f"pipeline:{pipeline_id}"
        case "custom":
            field = str(rules.get("keyField") or "")
            by_key = {k.casefold(): v for k, v in context.items()}
            return f"custom:{field}={by_key.get(field.casefold(), '')}"
    return "global"


@attrs.frozen
class Slot:
    at: float  # when the stage may be dispatched (== now when it conforms)
    tat: float  # the bucket's new theoretical arrival time


def rate_slot(rules: Mapping[str, Any], tat: float | None, now: float) -> Slot:
    interval = float(rules["windowSeconds"]) / float(rules["limit"])
    burst = int(rules.get("burst") or rules["limit"])
    tolerance = (burst - 1) * interval
    current = now if tat is None else tat
    at = current - tolerance
    if at <= now + SLOT_EPSILON:  # conforming (float error must not hold a stage for 1e-16 s)
        at = now
    return Slot(at=at, tat=max(current, now) + interval)


# -- retry -----------------------------------------------------------------------------------

@attrs.frozen
class RetryRule:
    """A retry policy's decision inputs, handed to `statemachine.fail`."""

    policy_id: int
    policy_name: str
    max_attempts: int
    backoff: str
    base_delay: float
    max_delay: float | None
    jitter: float
    error_codes: tuple[str, ...] | None

    @classmethod
    def of(cls, policy: ActivePolicy) -> RetryRule:
        r = policy.rules
        jitter = r.get("jitter")
        retry_on = r.get("retryOn") or None
        return cls(
            policy.id, policy.name, int(r["maxAttempts"]), str(r["backoff"]),
            float(r["baseDelayMs"]) / 1000.0,
            None if r.get("maxDelayMs") is None else float(r["maxDelayMs"]) / 1000.0,
            JITTER_TRUE if jitter is True else float(jitter or 0.0),
            None if retry_on is None else tuple(retry_on.get("errorCodes") or ()),
        )

    @property
    def max_retries(self) -> int:
        return self.max_attempts - 1

    def retries(self, error_code: str | None) -> bool:
        """Does this failure qualify for a retry at all (`retryOn.errorCodes`)?"""
        return self.error_codes is None or (error_code is not None and error_code in self.error_codes)

    def delay(self, retry_number: int, rand: float) -> float:
        """Seconds before retry `retry_number` (1-based); `rand` is uniform in [0, 1)."""
        d = self.base_delay
        if self.backoff == "exponential":
            d = self.base_delay * (2.0 ** min(retry_number - 1, 60))
        if self.max_delay is not None:
            d = min(d, self.max_delay)
        return d * (1.0 - self.jitter * rand)


# -- circuit breaker -------------------------------------------------------------------------

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@attrs.frozen
class Breaker:
    state: str = CLOSED
    opened_until: float | None = None
    trials: int = 0  # trial dispatches let through while half-open
    successes: int = 0  # trial successes while half-open


@attrs.frozen
class Admission:
    allowed: bool
    breaker: Breaker
    hold_until: float | None = None
    event: str | None = None  # what happened, for the triggered event and the stage log


def admit(rules: Mapping[str, Any], b: Breaker, now: float) -> Admission:
    """May a stage of this handler be dispatched now? While half-open, `opened_until` ends the
    trial window: trials that never reported (skipped, cancelled, lost) free their slots then."""
    open_for = float(rules["openSeconds"])
    if b.state == OPEN:
        until = b.opened_until or now
        if now < until:
            return Admission(False, b, until, "held: circuit open")
        b = Breaker(HALF_OPEN, now + open_for)
    if b.state == HALF_OPEN:
        if b.opened_until is not None and now >= b.opened_until:
            b = Breaker(HALF_OPEN, now + open_for, 0, b.successes)
        limit = int(rules["halfOpenMaxCalls"])
        if b.trials < limit:
            return Admission(True, attrs.evolve(b, trials=b.trials + 1),
                             event=f"half-open: trial {b.trials + 1} of {limit}")
        return Admission(False, b, b.opened_until, "held: circuit half-open, trials running")
    return Admission(True, b)


@attrs.frozen
class Outcome:
    breaker: Breaker
    event: str | None = None


def record(rules: Mapping[str, Any], b: Breaker, success: bool, failures_in_window: int,
           now: float) -> Outcome:
    """A finished attempt of this handler. `failures_in_window` counts failures within
    windowSeconds including this one (when it failed)."""
    open_for = float(rules["openSeconds"])
    if b.state == HALF_OPEN:
        if not success:
            return Outcome(Breaker(OPEN, now + open_for), "opened again: a trial failed")
        done = b.successes + 1
        if done >= int(rules["halfOpenMaxCalls"]):
            return Outcome(Breaker(CLOSED), f"closed: {done} trial(s) succeeded")
        return Outcome(attrs.evolve(b, successes=done))
    if b.state == CLOSED and not success and failures_in_window >= int(rules["failureThreshold"]):
        return Outcome(Breaker(OPEN, now + open_for),
                       f"opened: {failures_in_window} failures within {rules['windowSeconds']}s")
    return Outcome(b)


def breaker_key(policy: ActivePolicy, application_id: int, handler: str) -> str:
    return f"{application_id}:{handler}"


def describe(policy: ActivePolicy) -> str:
    return f"policy '{policy.name}' (#{policy.id})"


def first(items: Sequence[ActivePolicy]) -> ActivePolicy | None:
    return items[0] if items else None

"""Policy enforcement inside the engine's transactions (SPEC §6).

Called from `sqlite_engine` within the transaction that dispatches, leases or settles a
stage, so a policy's budget and the stage's transition commit together. Active policies are
read in that transaction (a handful of rows): a change made on any replica applies at the next
dispatch everywhere. The arithmetic is `pipelogiq.enforcement`.

A budget is read, computed on and written back: a rate-limit bucket's TAT, a breaker's state
and its failures. Its row is locked before it is read (`for_update`; a missing row is made
first, so there is one to lock), so on PostgreSQL under READ COMMITTED concurrent dispatches
and results of any replica take turns on it, as they do under SQLite's single writer. Locks
are taken in policy order (breakers, then rate limits), after the stage's.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs

from pipelogiq import enforcement as enf
from pipelogiq.policies import StageFacts, environment_of
from pipelogiq.store.base import Held, Trigger
from pipelogiq.store.sqltx import dumps, for_update, stage_log

HELD_RATE = "rate_limit"
HELD_BREAKER = "circuit_breaker"

# A column for a `SELECT *, … FROM stages`: may any policy act on this stage? Most stages meet
# none, and then `StageView` skips reading the policies (a round trip per transition saved).
_ACTIVE_FOR = ("EXISTS (SELECT 1 FROM policies WHERE status = 'active'"
               " AND (application_id IS NULL OR application_id = {}))")
MAY_HAVE_POLICIES = _ACTIVE_FOR.format("stages.application_id") + " AS may_have_policies"


def app_may_have_policies(conn: sqlite3.Connection, application_id: int) -> bool:
    """MAY_HAVE_POLICIES for every stage of an application."""
    return bool(conn.execute("SELECT " + _ACTIVE_FOR.format("?"), (application_id,)).fetchone()[0])


@attrs.define
class StageView:
    """One stage's policy context, loaded lazily (most stages meet no policy at all)."""

    conn: sqlite3.Connection
    row: Any  # a stage row (sqlite3.Row or the PostgreSQL record)
    _policies: list[enf.ActivePolicy] | None = None
    _facts: StageFacts | None = None
    _context: dict[str, str] | None = None
    triggers: list[Trigger] = attrs.Factory(list)

    @property
    def application_id(self) -> int:
        return int(self.row["application_id"])

    def policies(self) -> list[enf.ActivePolicy]:
        if self._policies is None and not may_have_policies(self.row):
            self._policies = []
        if self._policies is None:
            rows = self.conn.execute(
                "SELECT id, version, name, policy_type, rules, targeting, application_id"
                " FROM policies WHERE status = 'active'"
                " AND (application_id IS NULL OR application_id = ?)",
                (self.application_id,)).fetchall()
            self._policies = [enf.ActivePolicy.from_row(r) for r in rows]
        return self._policies

    def context(self) -> dict[str, str]:
        if self._context is None:
            self._context = {r[0]: r[1] for r in self.conn.execute(
                "SELECT key, value FROM context_items WHERE pipeline_id = ?",
                (self.row["pipeline_id"],))}
        return self._context

    def facts(self) -> StageFacts:
        if self._facts is None:
            pid = self.row["pipeline_id"]
            name = self.conn.execute("SELECT name FROM pipelines WHERE id = ?", (pid,)).fetchone()
            tags = [r[0] for r in self.conn.execute(
                "SELECT value FROM keywords WHERE pipeline_id = ?", (pid,))]
            self._facts = StageFacts(name[0] if name else "", self.row["name"],
                                     self.row["handler"], tags, environment_of(self.context()))
        return self._facts

    def acting(self, policy_type: str) -> list[enf.ActivePolicy]:
        policies = self.policies()
        if not any(p.policy_type == policy_type for p in policies):
            return []
        return enf.acting(policies, policy_type, self.facts(), self.application_id)

    def triggered(self, policy: enf.ActivePolicy, now: float, what: str, **details: Any) -> None:
        """A `triggered` policy event (insights) and a stage log line naming the policy."""
        row = self.row
        self.conn.execute(
            "INSERT INTO policy_events (policy_id, created_at, kind, policy_version, pipeline_id,"
            " stage_id, actor, details) VALUES (?, ?, 'triggered', ?, ?, ?, NULL, ?)",
            (policy.id, now, policy.version, row["pipeline_id"], row["id"],
             dumps({"action": what, "policyType": policy.policy_type, "stageName": row["name"],
                    "handler": row["handler"], **details})))
        stage_log(self.conn, row["pipeline_id"], row["id"], now, "Information",
                  f"{enf.describe(policy)}: {what}", state_change=False)
        self.triggers.append(Trigger(policy.id, policy.name, self.application_id,
                                     row["pipeline_id"], row["id"], what))


def may_have_policies(row: Any) -> bool:
    """False only when the row was read with MAY_HAVE_POLICIES and it said none."""
    try:
        return bool(row["may_have_policies"])
    except (IndexError, KeyError):  # not read with it (sqlite3.Row, a PostgreSQL record)
        return True


# -- dispatch --------------------------------------------------------------------------------

def gate(view: StageView, now: float) -> Held | None:
    """May this ready stage be dispatched now? Breakers first (a held stage takes no rate
    slot), then rate limits (the stage reserves its slot and waits for it)."""
    row = view.row
    holder = _holder(view)
    if holder is not None and row["held_until"] is not None and row["held_until"] > now:
        return Held(row["held_until"], row["wait_reason"] or "held by a policy", row["pipeline_id"])
    for policy in view.acting("circuit_breaker"):
        held = _breaker_gate(view, policy, now)
        if held is not None:
            return held
    if holder is not None and holder.policy_type == HELD_RATE:
        return None  # its reserved slot has come
    latest, limiter = now, None
    for policy in view.acting("rate_limit"):
        key = enf.rate_key(policy.rules, view.application_id, row["handler"], row["pipeline_id"],
                           view.context() if policy.rules.get("keyBy") == "custom" else {})
        slot = _take_slot(view.conn, policy, key, now)
        if slot.at > latest:
            latest, limiter = slot.at, policy
    if limiter is None:
        return None
    rules = limiter.rules
    what = (f"rate limited ({rules['limit']} per {rules['windowSeconds']}s by"
            f" {rules['keyBy']}): waits {latest - now:.3f}s for its slot")
    view.triggered(limiter, now, what, waitSeconds=round(latest - now, 3))
    return _hold(view, latest, limiter, f"{enf.describe(limiter)}: {what}")


def _take_slot(conn: sqlite3.Connection, policy: enf.ActivePolicy, key: str,
               now: float) -> enf.Slot:
    """Reserve the bucket's next slot: its row is locked, read and moved on; a bucket's first
    dispatch makes the row (a concurrent first one waits for it, then finds it there)."""
    select = "SELECT tat FROM rate_limits WHERE policy_id = ? AND bucket_key = ?" + for_update(conn)
    found = conn.execute(select, (policy.id, key)).fetchone()
    if found is None:
        slot = enf.rate_slot(policy.rules, None, now)
        made = conn.execute(
            "INSERT INTO rate_limits (policy_id, bucket_key, tat) VALUES (?, ?, ?)"
            " ON CONFLICT (policy_id, bucket_key) DO NOTHING RETURNING tat",
            (policy.id, key, slot.tat)).fetchone()
        if made is not None:
            return slot
        found = conn.execute(select, (policy.id, key)).fetchone()
    slot = enf.rate_slot(policy.rules, found[0], now)
    conn.execute("UPDATE rate_limits SET tat = ? WHERE policy_id = ? AND bucket_key = ?",
                 (slot.tat, policy.id, key))
    return slot


def _breaker_gate(view: StageView, policy: enf.ActivePolicy, now: float) -> Held | None:
    key = enf.breaker_key(policy, view.application_id, view.row["handler"])
    before = _load_breaker(view.conn, policy.id, key)
    adm = enf.admit(policy.rules, before, now)
    if adm.breaker != before:
        _save_breaker(view.conn, policy.id, key, adm.breaker)
    if adm.allowed:
        if adm.event:
            view.triggered(policy, now, f"circuit breaker {adm.event}")
        return None
    assert adm.hold_until is not None
    what = f"circuit breaker {adm.event} until {adm.hold_until - now:.3f}s from now"
    if view.row["held_by"] != _held_by(policy):  # one event per held stage, not per re-check
        view.triggered(policy, now, what, waitSeconds=round(adm.hold_until - now, 3))
    return _hold(view, adm.hold_until, policy, f"{enf.describe(policy)}: {what}")


def _held_by(policy: enf.ActivePolicy) -> str:
    return f"{policy.policy_type}:{policy.id}"


def _holder(view: StageView) -> enf.ActivePolicy | None:
    """The policy holding this stage, while it is still active and still targets it (a hold
    by a paused, disabled, deleted or retargeted policy is released)."""
    held_by = view.row["held_by"]
    if not held_by:
        return None
    kind, _, pid = str(held_by).partition(":")
    return next((p for p in view.acting(kind) if str(p.id) == pid), None)


def _hold(view: StageView, until: float, policy: enf.ActivePolicy, reason: str) -> Held:
    view.conn.execute(
        "UPDATE stages SET held_until = ?, held_by = ?, wait_reason = ? WHERE id = ?",
        (until, _held_by(policy), reason, view.row["id"]))
    return Held(until, reason, view.row["pipeline_id"], tuple(view.triggers))


def held_pipelines(conn: sqlite3.Connection, policy_id: int) -> list[int]:
    """Pipelines with a stage this policy holds (to re-evaluate when the policy changes)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT pipeline_id FROM stages WHERE held_by IN (?, ?)"
        " AND status IN ('NotStarted', 'RetryScheduled')",
        (f"{HELD_RATE}:{policy_id}", f"{HELD_BREAKER}:{policy_id}"))]


def _load_breaker(conn: sqlite3.Connection, policy_id: int, key: str, *,
                  make: bool = False) -> enf.Breaker:
    """The breaker, its row locked until the transaction ends. No row is a closed breaker;
    `make` creates that row first, to lock it (a failure counted under it)."""
    if make:
        conn.execute("INSERT INTO breakers (policy_id, breaker_key, state) VALUES (?, ?, ?)"
                     " ON CONFLICT (policy_id, breaker_key) DO NOTHING",
                     (policy_id, key, enf.CLOSED))
    row = conn.execute("SELECT state, opened_until, trials, successes FROM breakers"
                       " WHERE policy_id = ? AND breaker_key = ?" + for_update(conn),
                       (policy_id, key)).fetchone()
    if row is None:
        return enf.Breaker()
    return enf.Breaker(row[0], row[1], row[2], row[3])


def _save_breaker(conn: sqlite3.Connection, policy_id: int, key: str, b: enf.Breaker) -> None:
    conn.execute(
        "INSERT INTO breakers (policy_id, breaker_key, state, opened_until, trials, successes)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (policy_id, breaker_key) DO UPDATE SET"
        " state = excluded.state, opened_until = excluded.opened_until,"
        " trials = excluded.trials, successes = excluded.successes",
        (policy_id, key, b.state, b.opened_until, b.trials, b.successes))


# -- lease and results -----------------------------------------------------------------------

def attempt_limit(view: StageView, option: float | None) -> tuple[float | None, str]:
    """The running-time limit of one attempt: a timeout policy overrides `timeOut`."""
    for policy in view.acting("timeout"):
        return float(policy.rules["timeoutMs"]) / 1000.0, enf.describe(policy)
    return option, "timeOut"


def retry_rule(view: StageView) -> enf.RetryRule | None:
    """The retry policy that overrides the stage's retry options (the oldest that matches)."""
    for policy in view.acting("retry"):
        return enf.RetryRule.of(policy)
    return None


def attempt_finished(view: StageView, success: bool, now: float) -> list[int]:
    """Feed a finished attempt to the breakers of its handler; returns the pipelines whose
    held stages may go now (a breaker closed)."""
    wake: list[int] = []
    for policy in view.acting("circuit_breaker"):
        key = enf.breaker_key(policy, view.application_id, view.row["handler"])
        # A failure is counted with the breaker locked: concurrent failures count one another.
        before = _load_breaker(view.conn, policy.id, key, make=not success)
        failures = 0
        if not success:
            window = float(policy.rules["windowSeconds"])
            view.conn.execute("DELETE FROM breaker_failures WHERE policy_id = ? AND breaker_key = ?"
                              " AND failed_at <= ?", (policy.id, key, now - window))
            view.conn.execute("INSERT INTO breaker_failures (policy_id, breaker_key, failed_at)"
                              " VALUES (?, ?, ?)", (policy.id, key, now))
            failures = view.conn.execute(
                "SELECT COUNT(*) FROM breaker_failures WHERE policy_id = ? AND breaker_key = ?",
                (policy.id, key)).fetchone()[0]
        out = enf.record(policy.rules, before, success, failures, now)
        if out.breaker != before:
            _save_breaker(view.conn, policy.id, key, out.breaker)
        if out.event:
            view.triggered(policy, now, f"circuit breaker {out.event}")
        if out.breaker.state == enf.CLOSED and before.state != enf.CLOSED:
            view.conn.execute("DELETE FROM breaker_failures WHERE policy_id = ? AND breaker_key = ?",
                              (policy.id, key))
            wake += [r[0] for r in view.conn.execute(
                "UPDATE stages SET held_until = NULL WHERE held_by = ? AND application_id = ?"
                " AND handler = ? AND status IN ('NotStarted', 'RetryScheduled')"
                " RETURNING pipeline_id",
                (_held_by(policy), view.application_id, view.row["handler"]))]
    return wake

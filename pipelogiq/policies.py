"""Action policies (SPEC §6), the pure part: rule and targeting validation, status
transitions, the audit diff, and the targeting match that enforcement reuses. No I/O.

Targeting semantics (`matches`): every non-empty list narrows; names, handlers and tags compare
case-insensitively; `tagsInclude` needs every listed tag among the pipeline's keyword values,
`tagsExclude` none of them; `environment` compares with the pipeline's `environment` (or `env`)
context item and `all` matches every pipeline, with or without one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from pipelogiq.jsonobj import JsonObject

POLICY_TYPES = ("rate_limit", "retry", "timeout", "circuit_breaker")
STATUSES = ("active", "paused", "disabled")
KEY_BY = ("global", "tenant", "handler", "pipeline", "custom")
BACKOFFS = ("fixed", "exponential")
APPLIES_TO = ("step",)
ENV_ALL = "all"
ENV_KEYS = ("environment", "env")  # context item keys that name a pipeline's environment

MAX_NAME = 200
MAX_ITEMS = 500  # per targeting list
MAX_ITEM_LEN = 200
MAX_INT = 2**53  # what every JSON client reads exactly


class PolicyError(ValueError):
    """Invalid policy input; the message names the field (an HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyConflict(Exception):
    """A status change that does not apply to the policy's current status (an HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- reading JSON objects --------------------------------------------------------------------

class _Obj(JsonObject):
    """A JSON object read with case-insensitive keys; `null` means absent."""

    error = PolicyError

    def integer(self, name: str, *, lo: int, hi: int = MAX_INT, required: bool = True,
                rule: str = "") -> int | None:
        v = self.get(name)
        if v is None:
            if required:
                raise PolicyError(f"{self.path(name)} is required")
            return None
        if (isinstance(v, bool) or not isinstance(v, int | float)
                or (isinstance(v, float) and (not math.isfinite(v) or v != int(v)))):
            raise PolicyError(f"{self.path(name)}: expected an integer")
        if v < lo or v > hi:
            raise PolicyError(f"{self.path(name)}: {rule or _range_text(lo, hi)}")
        return int(v)

    def choice(self, name: str, options: Sequence[str]) -> str:
        v = self.get(name)
        if v is None:
            raise PolicyError(f"{self.path(name)} is required")
        if v not in options:
            raise PolicyError(f"{self.path(name)}: must be one of {', '.join(options)}")
        return str(v)


def _range_text(lo: int, hi: int) -> str:
    if hi == MAX_INT:
        return "must be greater than 0" if lo == 1 else f"must be at least {lo}"
    return f"must be between {lo} and {hi}"


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    """A list of non-empty strings, trimmed, duplicates (ignoring case) dropped."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise PolicyError(f"{where}: expected an array of strings")
    if len(raw) > MAX_ITEMS:
        raise PolicyError(f"{where}: more than {MAX_ITEMS} items")
    out: dict[str, str] = {}
    for s in raw:
        item = s.strip()
        if not item:
            raise PolicyError(f"{where}: empty strings are not allowed")
        if len(item) > MAX_ITEM_LEN:
            raise PolicyError(f"{where}: an item is longer than {MAX_ITEM_LEN} characters")
        out.setdefault(item.casefold(), item)
    return tuple(out.values())


# -- rules -----------------------------------------------------------------------------------

def validate_rule(policy_type: str, raw: Any) -> dict[str, Any]:
    """The rule of a policy of `policy_type`, normalised (known fields only, camelCase)."""
    if policy_type not in POLICY_TYPES:
        raise PolicyError(f"type: must be one of {', '.join(POLICY_TYPES)}")
    if raw is None:
        raise PolicyError("rule is required")
    rule = _Obj(raw, "rule")
    check = {"rate_limit": _rate_limit, "retry": _retry, "timeout": _timeout,
             "circuit_breaker": _circuit_breaker}[policy_type]
    return {k: v for k, v in check(rule).items() if v is not None}


def _rate_limit(r: _Obj) -> dict[str, Any]:
    limit = r.integer("limit", lo=1)
    assert limit is not None
    key_by = r.choice("keyBy", KEY_BY)
    key_field = r.get("keyField")
    if key_by == "custom":
        if not isinstance(key_field, str) or not key_field.strip():
            raise PolicyError("rule.keyField is required when keyBy is custom"
                              " (the context item to key the limit by)")
        key_field = key_field.strip()[:MAX_ITEM_LEN]
    elif key_field is not None:
        raise PolicyError("rule.keyField: only used when keyBy is custom")
    return {
        "limit": limit,
        "windowSeconds": r.integer("windowSeconds", lo=1),
        "keyBy": key_by,
        "keyField": key_field,
        "burst": r.integer("burst", lo=limit, required=False,
                           rule=f"must be at least limit ({limit})"),
    }


def _retry(r: _Obj) -> dict[str, Any]:
    base = r.integer("baseDelayMs", lo=1)
    assert base is not None
    return {
        "maxAttempts": r.integer("maxAttempts", lo=1, hi=100),
        "backoff": r.choice("backoff", BACKOFFS),
        "baseDelayMs": base,
        "maxDelayMs": r.integer("maxDelayMs", lo=base, required=False,
                                rule=f"must be at least baseDelayMs ({base})"),
        "jitter": _jitter(r.get("jitter")),
        "retryOn": _retry_on(r.get("retryOn")),
    }


def _jitter(v: Any) -> bool | float | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 1:
        return v
    raise PolicyError("rule.jitter: expected true, false or a ratio between 0 and 1")


def _retry_on(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    obj = _Obj(v, "rule.retryOn")
    codes = obj.get("errorCodes")
    return {"errorCodes": list(_strings(codes, "rule.retryOn.errorCodes"))}


def _timeout(r: _Obj) -> dict[str, Any]:
    return {"timeoutMs": r.integer("timeoutMs", lo=1), "appliesTo": r.choice("appliesTo", APPLIES_TO)}


def _circuit_breaker(r: _Obj) -> dict[str, Any]:
    return {
        "failureThreshold": r.integer("failureThreshold", lo=1),
        "windowSeconds": r.integer("windowSeconds", lo=1),
        "openSeconds": r.integer("openSeconds", lo=1),
        "halfOpenMaxCalls": r.integer("halfOpenMaxCalls", lo=1),
    }


# -- targeting -------------------------------------------------------------------------------

@attrs.frozen
class Targeting:
    pipelines: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    handlers: tuple[str, ...] = ()
    tags_include: tuple[str, ...] = ()
    tags_exclude: tuple[str, ...] = ()
    environment: str = ENV_ALL

    def to_json(self) -> dict[str, Any]:
        return {"pipelines": list(self.pipelines), "stages": list(self.stages),
                "handlers": list(self.handlers), "tagsInclude": list(self.tags_include),
                "tagsExclude": list(self.tags_exclude), "environment": self.environment}


def parse_targeting(raw: Any) -> Targeting:
    """A targeting spec from JSON (null or `{}` targets everything)."""
    if raw is None:
        return Targeting()
    t = _Obj(raw, "targeting")
    env = t.get("environment")
    if env is not None and (not isinstance(env, str) or not env.strip()):
        raise PolicyError("targeting.environment: expected a non-empty string")
    if env is not None and len(env) > MAX_ITEM_LEN:
        raise PolicyError(f"targeting.environment: longer than {MAX_ITEM_LEN} characters")
    return Targeting(
        pipelines=_strings(t.get("pipelines"), "targeting.pipelines"),
        stages=_strings(t.get("stages"), "targeting.stages"),
        handlers=_strings(t.get("handlers"), "targeting.handlers"),
        tags_include=_strings(t.get("tagsInclude"), "targeting.tagsInclude"),
        tags_exclude=_strings(t.get("tagsExclude"), "targeting.tagsExclude"),
        environment=env.strip() if env is not None else ENV_ALL,
    )


@attrs.frozen
class StageFacts:
    """What targeting looks at for one stage: its pipeline's name, keyword values and
    environment, and the stage's own name and handler."""

    pipeline_name: str
    stage_name: str
    handler: str
    tags: Collection[str] = ()
    environment: str | None = None


def _in(value: str, options: Iterable[str]) -> bool:
    folded = value.casefold()
    return any(folded == o.casefold() for o in options)


def pipeline_matches(t: Targeting, pipeline_name: str, tags: Collection[str],
                     environment: str | None) -> bool:
    """The pipeline-level half of `matches` (name, tags, environment)."""
    if t.pipelines and not _in(pipeline_name, t.pipelines):
        return False
    if t.environment.casefold() != ENV_ALL and (
            environment is None or environment.casefold() != t.environment.casefold()):
        return False
    folded = {tag.casefold() for tag in tags}
    if any(tag.casefold() not in folded for tag in t.tags_include):
        return False
    return not any(tag.casefold() in folded for tag in t.tags_exclude)


def matches(t: Targeting, facts: StageFacts) -> bool:
    """Does a policy with targeting `t` apply to this stage?"""
    if t.stages and not _in(facts.stage_name, t.stages):
        return False
    if t.handlers and not _in(facts.handler, t.handlers):
        return False
    return pipeline_matches(t, facts.pipeline_name, facts.tags, facts.environment)


def applies_to_application(policy_application_id: int | None, application_id: int) -> bool:
    """A global policy (no application) applies to every application."""
    return policy_application_id is None or policy_application_id == application_id


def environment_of(context: Mapping[str, str]) -> str | None:
    """The pipeline's environment from its context items (`environment` before `env`; keys
    compare case-insensitively; a JSON-quoted string value is unquoted)."""
    by_key = {k.casefold(): v for k, v in context.items()}
    for key in ENV_KEYS:
        value = by_key.get(key)
        if value is None:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            value = decoded if isinstance(decoded, str) else value
        if value.strip():
            return value.strip()
    return None


# -- preview ---------------------------------------------------------------------------------

@attrs.frozen
class StageRef:
    id: int
    name: str
    handler: str


@attrs.frozen
class PipelineFacts:
    id: int
    name: str
    application_id: int
    environment: str | None
    tags: tuple[str, ...]
    stages: tuple[StageRef, ...]


def preview(t: Targeting, pipelines: Sequence[PipelineFacts], sample: int = 20) -> dict[str, Any]:
    """Which of `pipelines` (recent ones) and their stages `t` matches, with counts and the
    first `sample` matching pipelines."""
    matched: list[dict[str, Any]] = []
    stage_count = 0
    handlers: dict[str, str] = {}
    for p in pipelines:
        if not pipeline_matches(t, p.name, p.tags, p.environment):
            continue
        hits = [s for s in p.stages if matches(t, StageFacts(p.name, s.name, s.handler, p.tags,
                                                             p.environment))]
        if not hits:
            continue
        stage_count += len(hits)
        for s in hits:
            handlers.setdefault(s.handler.casefold(), s.handler)
        matched.append({"id": p.id, "name": p.name, "applicationId": p.application_id,
                        "environment": p.environment,
                        "stages": [{"id": s.id, "name": s.name, "handler": s.handler}
                                   for s in hits]})
    return {"scannedPipelines": len(pipelines), "matchedPipelines": len(matched),
            "matchedStages": stage_count, "handlers": sorted(handlers.values()),
            "pipelines": matched[:sample]}


# -- drafts, status, audit -------------------------------------------------------------------

@attrs.frozen
class PolicyDraft:
    """A validated policy as a create or update request describes it."""

    application_id: int | None
    name: str
    policy_type: str
    rule: dict[str, Any]
    targeting: Targeting
    status: str = "active"


def validate_name(raw: Any) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise PolicyError("name is required")
    if not isinstance(raw, str):
        raise PolicyError("name: expected a string")
    name = raw.strip()
    if len(name) > MAX_NAME:
        raise PolicyError(f"name: longer than {MAX_NAME} characters")
    return name


def validate_status(raw: Any, where: str = "status") -> str:
    if raw not in STATUSES:
        raise PolicyError(f"{where}: must be one of {', '.join(STATUSES)}")
    return str(raw)


@attrs.frozen
class Transition:
    target: str
    event: str
    allowed_from: tuple[str, ...]


TRANSITIONS: dict[str, Transition] = {
    "enable": Transition("active", "enabled", ("disabled", "paused")),
    "disable": Transition("disabled", "disabled", ("active", "paused")),
    "pause": Transition("paused", "paused", ("active",)),
    "resume": Transition("active", "resumed", ("paused",)),
}


def transition(action: str, current: str) -> Transition:
    """The transition `action` makes from `current`; a no-op or an invalid one is a conflict."""
    tr = TRANSITIONS[action]
    if current == tr.target:
        raise PolicyConflict(f"policy is already {current}")
    if current not in tr.allowed_from:
        raise PolicyConflict(f"cannot {action} a {current} policy"
                             f" (only {' or '.join(tr.allowed_from)})")
    return tr


def snapshot(draft: PolicyDraft) -> dict[str, Any]:
    """What the audit trail records of a policy's state."""
    return {"applicationId": draft.application_id, "name": draft.name,
            "type": draft.policy_type, "status": draft.status, "rule": draft.rule,
            "targeting": draft.targeting.to_json()}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """`{"before": {...}, "after": {...}}` holding only the fields that changed."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}


def copy_name(name: str, taken: Collection[str]) -> str:
    """`name (copy)`, or `name (copy 2)`, … — the first not in `taken` (ignoring case)."""
    folded = {t.casefold() for t in taken}
    base = name[: MAX_NAME - 12]
    candidate = f"{base} (copy)"
    n = 2
    while candidate.casefold() in folded:
        candidate = f"{base} (copy {n})"
        n += 1
    return candidate

"""The pure policy logic (SPEC §6): rule validation per type, targeting parsing and matching
(which enforcement reuses), status transitions, the audit diff, duplicate names, preview."""

from __future__ import annotations

from typing import Any

import pytest

from pipelogiq import policies as pol

RATE = {"limit": 10, "windowSeconds": 60, "keyBy": "tenant"}
RETRY = {"maxAttempts": 5, "backoff": "exponential", "baseDelayMs": 100}
TIMEOUT = {"timeoutMs": 3000, "appliesTo": "step"}
BREAKER = {"failureThreshold": 5, "windowSeconds": 60, "openSeconds": 30, "halfOpenMaxCalls": 1}


# -- rules -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "rule", "expected"), [
    ("rate_limit", RATE, RATE),
    ("rate_limit", {**RATE, "burst": 10}, {**RATE, "burst": 10}),
    ("rate_limit", {"LIMIT": 1, "windowseconds": 1, "keyBy": "custom", "keyField": " customer "},
     {"limit": 1, "windowSeconds": 1, "keyBy": "custom", "keyField": "customer"}),
    ("rate_limit", {**RATE, "limit": 10.0, "unknown": 1}, RATE),
    ("retry", RETRY, RETRY),
    ("retry", {**RETRY, "maxDelayMs": 100, "jitter": True, "retryOn": {"errorCodes": ["E1", "E2"]}},
     {**RETRY, "maxDelayMs": 100, "jitter": True, "retryOn": {"errorCodes": ["E1", "E2"]}}),
    ("retry", {**RETRY, "maxAttempts": 1, "jitter": 0.25}, {**RETRY, "maxAttempts": 1, "jitter": 0.25}),
    ("retry", {**RETRY, "maxAttempts": 100, "jitter": 0}, {**RETRY, "maxAttempts": 100, "jitter": 0}),
    ("timeout", TIMEOUT, TIMEOUT),
    ("circuit_breaker", BREAKER, BREAKER),
])
def test_valid_rules_are_normalised(kind: str, rule: dict[str, Any],
                                    expected: dict[str, Any]) -> None:
    assert pol.validate_rule(kind, rule) == expected


@pytest.mark.parametrize(("kind", "rule", "message"), [
    ("nope", RATE, "type: must be one of rate_limit, retry, timeout, circuit_breaker"),
    ("rate_limit", None, "rule is required"),
    ("rate_limit", [1], "rule: expected an object"),
    ("rate_limit", {**RATE, "limit": 0}, "rule.limit: must be greater than 0"),
    ("rate_limit", {**RATE, "limit": -3}, "rule.limit: must be greater than 0"),
    ("rate_limit", {**RATE, "limit": 1.5}, "rule.limit: expected an integer"),
    ("rate_limit", {**RATE, "limit": True}, "rule.limit: expected an integer"),
    ("rate_limit", {**RATE, "limit": "10"}, "rule.limit: expected an integer"),
    ("rate_limit", {"windowSeconds": 60, "keyBy": "tenant"}, "rule.limit is required"),
    ("rate_limit", {**RATE, "windowSeconds": 0}, "rule.windowSeconds: must be greater than 0"),
    ("rate_limit", {"limit": 1, "windowSeconds": 1}, "rule.keyBy is required"),
    ("rate_limit", {**RATE, "keyBy": "user"},
     "rule.keyBy: must be one of global, tenant, handler, pipeline, custom"),
    ("rate_limit", {**RATE, "keyBy": "custom"}, "rule.keyField is required when keyBy is custom"),
    ("rate_limit", {**RATE, "keyBy": "custom", "keyField": "  "},
     "rule.keyField is required when keyBy is custom"),
    ("rate_limit", {**RATE, "keyField": "x"}, "rule.keyField: only used when keyBy is custom"),
    ("rate_limit", {**RATE, "burst": 9}, "rule.burst: must be at least limit (10)"),
    ("retry", {**RETRY, "maxAttempts": 0}, "rule.maxAttempts: must be between 1 and 100"),
    ("retry", {**RETRY, "maxAttempts": 101}, "rule.maxAttempts: must be between 1 and 100"),
    ("retry", {**RETRY, "backoff": "linear"}, "rule.backoff: must be one of fixed, exponential"),
    ("retry", {"maxAttempts": 3, "backoff": "fixed"}, "rule.baseDelayMs is required"),
    ("retry", {**RETRY, "baseDelayMs": 0}, "rule.baseDelayMs: must be greater than 0"),
    ("retry", {**RETRY, "maxDelayMs": 99}, "rule.maxDelayMs: must be at least baseDelayMs (100)"),
    ("retry", {**RETRY, "jitter": 1.5}, "rule.jitter: expected true, false or a ratio between 0 and 1"),
    ("retry", {**RETRY, "jitter": "yes"}, "rule.jitter: expected true, false or a ratio"),
    ("retry", {**RETRY, "retryOn": []}, "rule.retryOn: expected an object"),
    ("retry", {**RETRY, "retryOn": {"errorCodes": "E1"}},
     "rule.retryOn.errorCodes: expected an array of strings"),
    ("retry", {**RETRY, "retryOn": {"errorCodes": [1]}},
     "rule.retryOn.errorCodes: expected an array of strings"),
    ("timeout", {"timeoutMs": 0, "appliesTo": "step"}, "rule.timeoutMs: must be greater than 0"),
    ("timeout", {"timeoutMs": 10}, "rule.appliesTo is required"),
    ("timeout", {"timeoutMs": 10, "appliesTo": "external_call"}, "rule.appliesTo: must be one of step"),
    ("circuit_breaker", {**BREAKER, "failureThreshold": 0}, "rule.failureThreshold: must be greater than 0"),
    ("circuit_breaker", {**BREAKER, "windowSeconds": 0}, "rule.windowSeconds: must be greater than 0"),
    ("circuit_breaker", {**BREAKER, "openSeconds": -1}, "rule.openSeconds: must be greater than 0"),
    ("circuit_breaker", {**BREAKER, "halfOpenMaxCalls": 0}, "rule.halfOpenMaxCalls: must be greater than 0"),
    ("circuit_breaker", {k: v for k, v in BREAKER.items() if k != "openSeconds"},
     "rule.openSeconds is required"),
])
def test_invalid_rules_name_the_field(kind: str, rule: Any, message: str) -> None:
    with pytest.raises(pol.PolicyError) as info:
        pol.validate_rule(kind, rule)
    assert info.value.message.startswith(message)


# -- targeting -------------------------------------------------------------------------------

def test_targeting_defaults_to_everything() -> None:
    assert pol.parse_targeting(None) == pol.Targeting()
    assert pol.parse_targeting({}).to_json() == {
        "pipelines": [], "stages": [], "handlers": [], "tagsInclude": [], "tagsExclude": [],
        "environment": "all"}


def test_targeting_is_trimmed_and_deduplicated() -> None:
    t = pol.parse_targeting({"pipelines": [" orders ", "Orders", "billing"],
                             "TagsInclude": ["vip"], "environment": " prod "})
    assert t.pipelines == ("orders", "billing")
    assert t.tags_include == ("vip",)
    assert t.environment == "prod"


@pytest.mark.parametrize(("raw", "message"), [
    ([], "targeting: expected an object"),
    ({"pipelines": "orders"}, "targeting.pipelines: expected an array of strings"),
    ({"stages": [1]}, "targeting.stages: expected an array of strings"),
    ({"handlers": [""]}, "targeting.handlers: empty strings are not allowed"),
    ({"tagsExclude": ["x" * 201]}, "targeting.tagsExclude: an item is longer than 200"),
    ({"tagsInclude": ["t"] * 501}, "targeting.tagsInclude: more than 500 items"),
    ({"environment": 3}, "targeting.environment: expected a non-empty string"),
    ({"environment": " "}, "targeting.environment: expected a non-empty string"),
])
def test_invalid_targeting_names_the_field(raw: Any, message: str) -> None:
    with pytest.raises(pol.PolicyError) as info:
        pol.parse_targeting(raw)
    assert info.value.message.startswith(message)


STAGE = pol.StageFacts(pipeline_name="Orders", stage_name="charge", handler="payments",
                       tags=("vip", "eu"), environment="prod")


@pytest.mark.parametrize(("targeting", "expected"), [
    ({}, True),
    ({"pipelines": ["orders"]}, True),  # names compare ignoring case
    ({"pipelines": ["billing"]}, False),
    ({"pipelines": ["billing", "ORDERS"]}, True),
    ({"stages": ["charge"]}, True),
    ({"stages": ["ship"]}, False),
    ({"handlers": ["payments"]}, True),
    ({"handlers": ["mailer"]}, False),
    ({"tagsInclude": ["vip"]}, True),
    ({"tagsInclude": ["vip", "eu"]}, True),
    ({"tagsInclude": ["vip", "us"]}, False),  # every included tag is needed
    ({"tagsExclude": ["us"]}, True),
    ({"tagsExclude": ["us", "EU"]}, False),  # any excluded tag rules it out
    ({"environment": "all"}, True),
    ({"environment": "ALL"}, True),
    ({"environment": "Prod"}, True),
    ({"environment": "staging"}, False),
    ({"pipelines": ["orders"], "stages": ["charge"], "handlers": ["payments"],
      "tagsInclude": ["vip"], "tagsExclude": ["test"], "environment": "prod"}, True),
    ({"pipelines": ["orders"], "stages": ["charge"], "handlers": ["other"]}, False),
])
def test_matches(targeting: dict[str, Any], expected: bool) -> None:
    assert pol.matches(pol.parse_targeting(targeting), STAGE) is expected


def test_a_specific_environment_never_matches_a_pipeline_without_one() -> None:
    bare = pol.StageFacts("Orders", "charge", "payments")
    assert pol.matches(pol.parse_targeting({"environment": "prod"}), bare) is False
    assert pol.matches(pol.parse_targeting({"environment": "all"}), bare) is True
    assert pol.matches(pol.parse_targeting({"tagsInclude": ["vip"]}), bare) is False
    assert pol.matches(pol.parse_targeting({"tagsExclude": ["vip"]}), bare) is True


@pytest.mark.parametrize(("context", "expected"), [
    ({}, None),
    ({"environment": "prod"}, "prod"),
    ({"env": "staging"}, "staging"),
    ({"Environment": " prod "}, "prod"),
    ({"env": "dev", "environment": "prod"}, "prod"),  # `environment` wins
    ({"environment": '"prod"'}, "prod"),  # JSON-quoted
    ({"environment": ""}, None),
    ({"environment": "", "env": "dev"}, "dev"),
    ({"region": "eu"}, None),
])
def test_environment_of(context: dict[str, str], expected: str | None) -> None:
    assert pol.environment_of(context) == expected


def test_global_policies_apply_to_every_application() -> None:
    assert pol.applies_to_application(None, 7)
    assert pol.applies_to_application(7, 7)
    assert not pol.applies_to_application(8, 7)


# -- status, audit, names ---------------------------------------------------------------------

@pytest.mark.parametrize(("action", "current", "target", "event"), [
    ("enable", "disabled", "active", "enabled"),
    ("enable", "paused", "active", "enabled"),
    ("disable", "active", "disabled", "disabled"),
    ("disable", "paused", "disabled", "disabled"),
    ("pause", "active", "paused", "paused"),
    ("resume", "paused", "active", "resumed"),
])
def test_transitions(action: str, current: str, target: str, event: str) -> None:
    step = pol.transition(action, current)
    assert (step.target, step.event) == (target, event)


@pytest.mark.parametrize(("action", "current", "message"), [
    ("enable", "active", "policy is already active"),
    ("disable", "disabled", "policy is already disabled"),
    ("pause", "paused", "policy is already paused"),
    ("resume", "active", "policy is already active"),
    ("pause", "disabled", "cannot pause a disabled policy (only active)"),
    ("resume", "disabled", "cannot resume a disabled policy (only paused)"),
])
def test_no_op_and_invalid_transitions_conflict(action: str, current: str, message: str) -> None:
    with pytest.raises(pol.PolicyConflict) as info:
        pol.transition(action, current)
    assert info.value.message == message


def test_diff_keeps_only_changed_fields() -> None:
    before = {"name": "a", "rule": {"limit": 1}, "status": "active"}
    after = {"name": "a", "rule": {"limit": 2}, "status": "active"}
    assert pol.diff(before, after) == {"before": {"rule": {"limit": 1}},
                                       "after": {"rule": {"limit": 2}}}
    assert pol.diff(before, before) == {"before": {}, "after": {}}


def test_copy_names() -> None:
    assert pol.copy_name("Limit", []) == "Limit (copy)"
    assert pol.copy_name("Limit", ["limit (COPY)"]) == "Limit (copy 2)"
    assert pol.copy_name("Limit", ["Limit (copy)", "Limit (copy 2)"]) == "Limit (copy 3)"
    assert len(pol.copy_name("x" * 200, [])) <= pol.MAX_NAME


@pytest.mark.parametrize(("raw", "message"), [
    (None, "name is required"), ("  ", "name is required"), (3, "name: expected a string"),
    ("x" * 201, "name: longer than 200 characters"),
])
def test_invalid_names(raw: Any, message: str) -> None:
    with pytest.raises(pol.PolicyError, match=message.replace("(", r"\(")):
        pol.validate_name(raw)


def test_preview_counts_matching_pipelines_and_stages() -> None:
    def p(pid: int, name: str, env: str | None, tags: tuple[str, ...],
          *stages: tuple[str, str]) -> pol.PipelineFacts:
        return pol.PipelineFacts(pid, name, 1, env, tags, tuple(
            pol.StageRef(pid * 10 + i, s, h) for i, (s, h) in enumerate(stages)))

    pipelines = [
        p(1, "orders", "prod", ("vip",), ("charge", "payments"), ("ship", "mailer")),
        p(2, "orders", "staging", ("vip",), ("charge", "payments")),
        p(3, "billing", "prod", (), ("charge", "Payments")),
    ]
    out = pol.preview(pol.parse_targeting({"handlers": ["payments"], "environment": "prod"}),
                      pipelines)
    assert out["scannedPipelines"] == 3
    assert out["matchedPipelines"] == 2
    assert out["matchedStages"] == 2
    assert out["handlers"] == ["payments"]
    assert [m["id"] for m in out["pipelines"]] == [1, 3]
    assert out["pipelines"][0]["stages"] == [{"id": 10, "name": "charge", "handler": "payments"}]
    none = pol.preview(pol.parse_targeting({"stages": ["nothing"]}), pipelines)
    assert (none["matchedPipelines"], none["matchedStages"], none["pipelines"]) == (0, 0, [])
    sample = pol.preview(pol.Targeting(), pipelines, sample=1)
    assert sample["matchedPipelines"] == 3 and len(sample["pipelines"]) == 1

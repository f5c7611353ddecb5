"""Broker message bodies: AMQP-direct worker messages in camelCase or PascalCase, job
payloads, bad input as one clear `BadMessage`, and topology mismatch replies."""

from __future__ import annotations

import json

import pytest

from pipelogiq.broker.amqp_messages import (
    BadMessage,
    decode_job,
    decode_stage_result,
    decode_stage_set_status,
    encode_job,
)
from pipelogiq.broker.rabbit_topology import RabbitConfig, mismatch_from_reply
from pipelogiq.domain import ContextItem, Job, LogLine, StageStatus

NOW = 1_700_000_000.0


def j(data: object) -> bytes:
    return json.dumps(data).encode()


def test_set_status_camel_and_pascal() -> None:
    camel = decode_stage_set_status(j({"stageId": 7, "status": "Running"}))
    pascal = decode_stage_set_status(j({"StageId": 7, "Status": "running"}))
    assert camel == pascal
    assert camel.stage_id == 7 and camel.status is StageStatus.RUNNING


def test_result_camel_case() -> None:
    msg = decode_stage_result(j({
        "stageId": 3, "pipelineId": 9, "isSuccess": False, "result": "boom",
        "errorCode": "E42", "retryable": False, "attempt": 2,
        "logs": [{"message": "hi", "logLevel": "Warning", "created": "2024-01-02T03:04:05Z"}],
        "contextItems": [{"key": "k", "value": "v", "valueType": "string"}],
    }), NOW)
    assert (msg.stage_id, msg.pipeline_id, msg.attempt) == (3, 9, 2)
    r = msg.result
    assert (r.is_success, r.output, r.error_code, r.retryable) == (False, "boom", "E42", False)
    assert r.logs == (LogLine("Warning", "hi", 1704164645.0),)
    assert r.context == (ContextItem("k", "v", "string"),)


def test_result_pascal_case_as_the_dotnet_sdk_sends_it() -> None:
    msg = decode_stage_result(j({
        "PipelineId": None, "StageId": 5, "Result": "{\"ok\":1}", "IsSuccess": True,
        "NextStageId": None, "RunNextIfCurrentFailed": False,
        "Logs": [{"Message": "done", "LogLevel": 2, "Created": "2024-01-02T03:04:05.1234567Z"}],
        "ContextItems": [{"Key": "a", "Value": "b"}],
    }), NOW)
    assert msg.stage_id == 5 and msg.pipeline_id is None and msg.attempt is None
    assert msg.result.is_success and msg.result.output == "{\"ok\":1}"
    assert msg.result.logs[0].level == "Information"
    assert msg.result.logs[0].created == pytest.approx(1704164645.123456)
    assert msg.result.context == (ContextItem("a", "b", "string"),)


def test_result_without_logs_gets_defaults() -> None:
    msg = decode_stage_result(j({"stageId": 1, "isSuccess": True,
                                 "logs": [{"message": "m"}]}), NOW)
    assert msg.result.output is None
    assert msg.result.logs == (LogLine("Information", "m", NOW),)


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"\xff\xfe", "malformed JSON"),
    (b"{not json", "malformed JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (j({"isSuccess": True}), "stageId is required"),
    (j({"stageId": "7", "isSuccess": True}), "stageId: expected an integer"),
    (j({"stageId": 0}), "stageId: expected a positive integer, got 0"),
    (j({"stageId": 1.5}), "stageId: expected an integer"),
    (j({"stageId": 1, "isSuccess": "yes"}), "isSuccess: expected true or false"),
    (j({"stageId": 1, "logs": {"message": "x"}}), "logs: expected an array"),
    (j({"stageId": 1, "logs": [{"message": "x", "created": "yesterday"}]}), "RFC 3339"),
    (j({"stageId": 1, "contextItems": [{"value": "x"}]}), "key is required"),
    (b'{"stageId": NaN}', "malformed JSON"),
])
def test_bad_results_raise_bad_message(body: bytes, reason: str) -> None:
    with pytest.raises(BadMessage) as info:
        decode_stage_result(body, NOW)
    assert info.value.kind == "StageResult"
    assert reason in str(info.value)
    assert str(info.value).startswith("bad StageResult message: ")


@pytest.mark.parametrize("body, reason", [
    (j({"status": "Running"}), "stageId is required"),
    (j({"stageId": 4}), "status is required"),
    (j({"stageId": 4, "status": 1}), "status: expected a string"),
    (j({"stageId": 4, "status": "Sleeping"}), "'Sleeping' is not one of"),
    (j({"stageId": True, "status": "Running"}), "stageId: expected an integer"),
    (b"null", "must be a JSON object"),
])
def test_bad_set_status_raise_bad_message(body: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match="bad StageSetStatus message") as info:
        decode_stage_set_status(body)
    assert reason in str(info.value)


def test_oversized_body_is_bad() -> None:
    with pytest.raises(BadMessage, match="over"):
        decode_stage_set_status(b"{" + b" " * (9 * 1024 * 1024) + b"}")


def test_job_round_trip_and_stage_next_names() -> None:
    job = Job(application_id=4, handler="send-mail", stage_id=11, pipeline_id=22, attempt=3)
    raw = encode_job(job)
    assert decode_job(raw) == job
    payload = json.loads(raw)
    assert payload["appId"] == 4 and payload["executionId"] == 22
    assert payload["stageHandlerName"] == "send-mail"
    assert decode_job(j({"AppId": 4, "StageId": 11, "ExecutionId": 22,
                         "StageHandlerName": "send-mail"})).attempt == 1
    with pytest.raises(BadMessage, match="stageHandlerName is required"):
        decode_job(j({"appId": 4, "stageId": 11, "pipelineId": 22}))


def test_mismatch_reply_names_object_and_setting() -> None:
    exc = mismatch_from_reply(
        "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue "
        "'p.StageResult' in vhost '/': received the value '' of type 'longstr' but current "
        "is none", "queue", "p.StageResult")
    assert (exc.kind, exc.name, exc.setting) == ("queue", "p.StageResult",
                                                  "x-dead-letter-exchange")
    assert "received the value ''" in exc.detail
    assert "RABBIT_DLQ_ENABLED" in str(exc) and "'p.StageResult'" in str(exc)
    other = mismatch_from_reply(
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'p.StageUpdated.fanout' "
        "in vhost '/': received 'fanout' but current is 'direct'", "exchange", "x")
    assert (other.kind, other.name, other.setting) == ("exchange", "p.StageUpdated.fanout",
                                                        "type")
    unknown = mismatch_from_reply("PRECONDITION_FAILED - something new", "queue", "q")
    assert unknown.name == "q" and "something new" in str(unknown)


def test_names_carry_the_prefix_and_dlq_arguments() -> None:
    cfg = RabbitConfig(url="amqp://x", prefix="t1.", app_id="app", dlq_enabled=True)
    assert cfg.job_queue(3, "h") == "t1.app.stage.3.h"
    assert (cfg.stage_result, cfg.stage_set_status, cfg.updates_exchange) == (
        "t1.StageResult", "t1.StageSetStatus", "t1.StageUpdated.fanout")
    assert cfg.queue_arguments("t1.StageResult") == {
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "t1.StageResult.dlq"}
    assert cfg.queue_arguments("t1.StageResult.dlq") == {}
    assert RabbitConfig(url="amqp://x").queue_arguments("q") == {}

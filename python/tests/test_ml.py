"""The ML example: training heartbeats checkpoints, resumes from them, and evaluates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Server, ServerFactory

from snakepool.bridge.v1 import bridge_pb2 as pb

ML = "snakepool.examples.ml:DigitsAdapter"


@pytest.fixture(scope="module")
def ml_server(module_servers: ServerFactory) -> Server:
    return module_servers.start(ML, "--max-workers", "2", mode="thread")


def _train(
    server: Server, args: dict[str, Any], resume: Any = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = server.execute("train", args, resume=resume)
    assert events[-1].HasField("result"), events[-1]
    beats = [json.loads(e.heartbeat.details_json) for e in events[:-1]]
    return beats, json.loads(events[-1].result.result_json)


def test_train_heartbeats_every_epoch_and_evaluates(ml_server: Server) -> None:
    beats, result = _train(ml_server, {"epochs": 4})
    assert [b["epoch"] for b in beats] == [1, 2, 3, 4]
    assert all(set(b) == {"epoch", "accuracy", "checkpoint"} for b in beats)
    assert result["started_from_epoch"] == 0 and result["epochs"] == 4
    assert result["accuracy"] > 0.85
    assert result["model"] == beats[-1]["checkpoint"]
    evaluated = ml_server.call("evaluate", {"model": result["model"]})
    assert evaluated.pop("macro_f1") > 0.85
    params = {"learning_rate": 0.01, "alpha": 0.0001, "loss": "log_loss", "seed": 0}
    assert evaluated == {**params, "accuracy": result["accuracy"], "samples": 450}
    assert ml_server.call("dataset_info") == {"train": 1347, "test": 450, "features": 64, "classes": 10}


def test_resume_from_heartbeat_continues_where_it_stopped(ml_server: Server) -> None:
    args = {"epochs": 5, "learning_rate": 0.02, "seed": 3}
    full_beats, full = _train(ml_server, args)
    beats, resumed = _train(ml_server, args, resume=full_beats[1])  # the last heartbeat of a lost attempt
    assert resumed["started_from_epoch"] == 2
    assert [b["epoch"] for b in beats] == [3, 4, 5]
    # Training is deterministic, so resuming gives the same model as never stopping.
    assert resumed["model"] == full["model"]
    assert resumed["accuracy"] == full["accuracy"]


def test_resume_after_the_last_epoch_returns_at_once(ml_server: Server) -> None:
    beats, full = _train(ml_server, {"epochs": 2})
    again_beats, again = _train(ml_server, {"epochs": 2}, resume=beats[-1])
    assert again_beats == [] and again["started_from_epoch"] == 2 and again["model"] == full["model"]


def test_cancel_mid_training_then_resume(ml_server: Server) -> None:
    call_id, events = ml_server.start("train", {"epochs": 3, "epoch_seconds": 30})
    first = json.loads(next(events).heartbeat.details_json)
    assert first["epoch"] == 1
    assert ml_server.stub.Cancel(pb.CancelRequest(call_id=call_id), timeout=5).found
    assert list(events)[-1].error.type == "Cancelled"
    beats, result = _train(ml_server, {"epochs": 3}, resume=first)
    assert result["started_from_epoch"] == 1 and [b["epoch"] for b in beats] == [2, 3]


def test_predict(ml_server: Server) -> None:
    _, result = _train(ml_server, {"epochs": 3})
    zero = [
        0,
        0,
        5,
        13,
        9,
        1,
        0,
        0,
        0,
        0,
        13,
        15,
        10,
        15,
        5,
        0,
        0,
        3,
        15,
        2,
        0,
        11,
        8,
        0,
        0,
        4,
        12,
        0,
        0,
        8,
        8,
        0,
    ]
    zero += [
        0,
        5,
        8,
        0,
        0,
        9,
        8,
        0,
        0,
        4,
        11,
        0,
        1,
        12,
        7,
        0,
        0,
        2,
        14,
        5,
        10,
        12,
        0,
        0,
        0,
        0,
        6,
        13,
        10,
        0,
        0,
        0,
    ]
    assert ml_server.call("predict", {"model": result["model"], "images": [zero]}) == [0]


def test_pick_best_ranks_by_the_metric(ml_server: Server) -> None:
    candidates = [
        {"loss": "hinge", "macro_f1": 0.91},
        {"loss": "log_loss", "macro_f1": 0.95},
        {"macro_f1": 0.93},
    ]
    best = ml_server.call("pick_best", {"candidates": candidates, "metric": "macro_f1"})
    summary = {"index": 1, "metric": "macro_f1", "value": 0.95, "margin": 0.95 - 0.93}
    assert best == summary | {"loss": "log_loss", "macro_f1": 0.95}
    alone = ml_server.call("pick_best", {"candidates": [{"accuracy": 1}]})
    assert alone == {"index": 0, "metric": "accuracy", "value": 1.0, "margin": None, "accuracy": 1}
    err = ml_server.error("pick_best", {"candidates": [{"accuracy": 0.9}, {"loss": "hinge"}]})
    assert err.type == "InvalidArguments" and "candidates[1] has no numeric 'accuracy'" in err.message
    err = ml_server.error("pick_best", {"candidates": []})
    assert err.type == "InvalidArguments" and err.non_retryable


def test_bad_model_is_invalid_arguments(ml_server: Server) -> None:
    err = ml_server.error("evaluate", {"model": {"coef": [[1.0]], "intercept": [0.0], "classes": [0]}})
    assert err.type == "InvalidArguments" and err.non_retryable and "do not fit" in err.message
    err = ml_server.error("evaluate", {"model": {"nothing": 1}})
    assert err.type == "InvalidArguments" and "not a model returned by train" in err.message
    err = ml_server.error("train", {"epochs": "ten"})
    assert err.type == "InvalidArguments" and "argument 'epochs': expected integer" in err.message

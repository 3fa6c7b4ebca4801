"""Batches on the call channel: one tool over several items, in order, each item's end as it ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TEST_ADAPTER, Server, ServerFactory, until
from test_call_channel import ChannelClient

from snakepool.bridge.v1 import bridge_pb2 as pb


@pytest.fixture(params=["process", "thread"])
def server(request: pytest.FixtureRequest, servers: ServerFactory) -> Server:
    if request.param == "thread":
        return servers.start(TEST_ADAPTER, "--max-workers", "2", mode="thread")
    return servers.start(TEST_ADAPTER)


@pytest.fixture
def channel(server: Server) -> ChannelClient:
    return ChannelClient(server)


def start_batch(
    channel: ChannelClient,
    tool: str,
    items: list[Any],
    *,
    first: int = 0,
    continue_on_error: bool = False,
    resume: Any = None,
    call_id: str = "b1",
) -> str:
    channel.send(
        pb.SessionRequest(
            batch=pb.BatchRequest(
                call_id=call_id,
                tool=tool,
                items_json=[json.dumps(item).encode() for item in items],
                first=first,
                continue_on_error=continue_on_error,
                resume_json=b"" if resume is None else json.dumps(resume).encode(),
                info=pb.CallInfo(workflow_id="wf", attempt=2),
            )
        )
    )
    return call_id


def batch_events(channel: ChannelClient, call_id: str) -> list[pb.SessionEvent]:
    """Every event of a batch up to and including its result or error."""
    events = [channel.next_event(call_id)]
    while events[-1].WhichOneof("event") in ("heartbeat", "item"):
        events.append(channel.next_event(call_id))
    return events


def items_of(events: list[pb.SessionEvent]) -> list[tuple[int, Any]]:
    """(index, result or 'ErrorType: message') of each item's end, in order."""
    out: list[tuple[int, Any]] = []
    for e in events:
        if e.HasField("item"):
            end = e.item
            if end.HasField("error"):
                out.append((end.index, f"{end.error.type}: {end.error.message}"))
            else:
                out.append((end.index, json.loads(end.result.result_json)))
    return out


def test_items_run_in_order_each_ending_as_it_ends(channel: ChannelClient) -> None:
    events = batch_events(channel, start_batch(channel, "square", [{"x": i} for i in range(5)]))
    assert items_of(events) == [(i, i * i) for i in range(5)]
    assert events[-1].HasField("result")


def test_a_bad_item_is_that_items_error_and_the_batch_goes_on_when_asked(channel: ChannelClient) -> None:
    items = [{"x": 1}, {"x": "one"}, {"y": 2}, {"x": 3}]
    events = batch_events(channel, start_batch(channel, "square", items, continue_on_error=True))
    got = items_of(events)
    assert [i for i, _ in got] == [0, 1, 2, 3]
    assert got[0] == (0, 1) and got[3] == (3, 9)
    assert got[1][1].startswith("InvalidArguments: ") and "'x'" in got[1][1]
    assert got[2][1].startswith("InvalidArguments: ")
    assert events[-1].HasField("result")
    bad = next(e.item.error for e in events if e.HasField("item") and e.item.index == 1)
    assert bad.non_retryable


def test_without_continue_on_error_the_batch_ends_at_the_first_failing_item(channel: ChannelClient) -> None:
    events = batch_events(
        channel, start_batch(channel, "even_only", [{"n": 0}, {"n": 2}, {"n": 3}, {"n": 4}])
    )
    assert items_of(events) == [(0, 0), (1, 2), (2, "ValueError: 3 is odd")]
    assert events[-1].HasField("result"), "the batch ran to its end: the failing item"
    failed = events[-2].item.error
    assert "Traceback" in failed.traceback and not failed.non_retryable


def test_a_resumed_batch_starts_at_first_and_only_that_item_gets_resume(channel: ChannelClient) -> None:
    items: list[Any] = [{}, {}, {}, {}]
    events = batch_events(channel, start_batch(channel, "whoami", items, first=2, resume={"step": 7}))
    got = items_of(events)
    assert [i for i, _ in got] == [2, 3]
    assert got[0][1]["resume"] == {"step": 7} and got[1][1]["resume"] is None
    assert got[0][1]["call_id"] == "b1/2" and got[0][1]["info"]["workflow_id"] == "wf"
    assert got[0][1]["info"]["attempt"] == 2


def test_heartbeats_are_tagged_with_their_item(channel: ChannelClient) -> None:
    events = batch_events(channel, start_batch(channel, "progress", [{"steps": 2}, {"steps": 3}]))
    kinds = [
        (e.WhichOneof("event"), e.heartbeat.item if e.HasField("heartbeat") else e.item.index)
        for e in events[:-1]
    ]
    assert kinds == [
        ("heartbeat", 0),
        ("heartbeat", 0),
        ("item", 0),
        ("heartbeat", 1),
        ("heartbeat", 1),
        ("heartbeat", 1),
        ("item", 1),
    ]
    assert json.loads(events[0].heartbeat.details_json) == {"step": 1}


def test_cancel_ends_the_item_running_and_the_batch(server: Server, channel: ChannelClient) -> None:
    call_id = start_batch(channel, "compute", [{"x": 0}, {"x": 30}, {"x": 0}])
    assert channel.next_event(call_id).item.index == 0
    assert until(lambda: server.ping().active_calls == 1)
    assert channel.cancel(call_id, "enough")
    last = channel.next_event(call_id)
    assert last.HasField("error"), f"no further item is reported, got {last}"
    assert last.error.type == "Cancelled" and "b1/1" in last.error.message and "enough" in last.error.message
    assert server.ping().active_calls == 0


def test_an_unknown_tool_ends_the_batch_before_any_item(channel: ChannelClient) -> None:
    events = batch_events(channel, start_batch(channel, "no_such_tool", [{}]))
    assert len(events) == 1 and events[0].error.type == "ToolNotFound"


def test_invalid_resume_details_end_the_batch(channel: ChannelClient) -> None:
    channel.send(
        pb.SessionRequest(
            batch=pb.BatchRequest(call_id="b2", tool="noop", items_json=[b"{}"], resume_json=b"{")
        )
    )
    events = batch_events(channel, "b2")
    assert len(events) == 1 and events[0].error.type == "InvalidArguments"


def test_a_batch_takes_one_call_slot(servers: ServerFactory) -> None:
    server = servers.start(TEST_ADAPTER)  # process mode: one slot
    channel = ChannelClient(server)
    batch = start_batch(channel, "compute", [{"x": 30}])
    assert until(lambda: server.ping().active_calls == 1)
    err = server.error("noop")
    assert err.type == "WorkerBusy"
    channel.cancel(batch)
    assert batch_events(channel, batch)[-1].error.type == "Cancelled"


def test_an_empty_batch_or_one_resumed_past_its_end_just_ends(channel: ChannelClient) -> None:
    assert [e.WhichOneof("event") for e in batch_events(channel, start_batch(channel, "noop", []))] == [
        "result"
    ]
    events = batch_events(channel, start_batch(channel, "noop", [{}], first=1, call_id="b3"))
    assert [e.WhichOneof("event") for e in events] == ["result"]

"""The wire protocol: the child's encoder and the grader's decoder agree, and the decoder
takes any bytes a hostile child may write without failing in any way but a channel error.

The child script keeps its own copy of the protocol's bounds (it is the one file mounted
into the sandbox): these tests hold the two copies together. The child's runner is run in
this process on trusted cells, and its frames are read as the grader reads a sandbox's.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graders.sandbox import (
    Call,
    Cell,
    CellStatus,
    Extraction,
    Isolation,
    Job,
    Outcome,
    Termination,
    child,
    protocol,
)
from graders.source_analysis import assigned_names
from graders.values import PLACEHOLDER, CallFailure, Opaque, SymbolicText


def replies_to(job: Job) -> protocol.Protocol:
    assigned = [assigned_names(cell.source) for cell in job.cells]
    return protocol.Protocol(job, assigned, protocol.snapshot_plan(job, assigned))


def across(job: Job, tmp_path: Path, cell_seconds: float = 2.0) -> Outcome:
    """The job encoded by the grader, run by the child's runner here, and its messages
    read back by the grader's frame reader and protocol."""
    replies = replies_to(job)
    document = json.loads(protocol.encode_job(job, replies.plan, cell_seconds))
    channel = tmp_path / "channel"
    fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        child.Runner(document, child.Channel(fd)).run()
    finally:
        os.close(fd)
    for message in protocol.FrameReader().feed(channel.read_bytes()):
        replies.handle(message)
    assert replies.done
    return replies.outcome(
        Termination.FINISHED, stdout="", stderr="", isolation=Isolation.PROCESS, duration=0.0
    )


def test_both_sides_name_the_same_dtypes_and_the_child_keeps_within_the_grader_bounds() -> None:
    assert child.NUMPY_DTYPES == protocol.WIRE_DTYPES
    assert child.MEMORY_EXIT == protocol.MEMORY_EXIT
    assert child.MAX_DEPTH <= protocol.MAX_DEPTH
    assert child.MESSAGE_BYTES < protocol.MAX_FRAME_BYTES  # room for the message's frame
    assert child.MESSAGE_VALUES < protocol.MAX_FRAME_VALUES
    assert child.MAX_ITEMS <= protocol.MAX_ITEMS
    assert child.MAX_ARRAY_ELEMENTS <= protocol.MAX_ARRAY_ELEMENTS
    assert child.MAX_STR_CHARS <= protocol.MAX_TEXT_CHARS
    assert child.TEXT_CAP <= protocol.MAX_MESSAGE_CHARS
    assert child.NAME_CAP <= protocol.MAX_NAME_CHARS
    assert protocol.HEX_INT.fullmatch("-" + format(2**child.MAX_INT_BITS - 1, "x"))


# Values at the child's bounds, and just past them (which cross as opaque markers).
BOUNDARY_CELL = f"""
typed = [np.array([1, 0], dtype=kind) for kind in
         ("bool", "int8", "int64", "uint16", "uint64", "float16", "float32", "complex64")]
wide = np.linspace(0, 1, 1_000_000)
text = "s" * {child.MAX_STR_CHARS}
too_long = "s" * {child.MAX_STR_CHARS + 1}
big = 2**{child.MAX_INT_BITS} - 1
too_big = 2**{child.MAX_INT_BITS}
deep = too_deep = 1
for _ in range({child.MAX_DEPTH}):
    deep = [deep]
too_deep = [deep]
many = [0.5] * 30_000
too_many = [None] * {child.MAX_ITEMS}
placeholder = ...
"""
BOUNDARY_NAMES = [
    "typed",
    "text",
    "too_long",
    "big",
    "too_big",
    "deep",
    "too_deep",
    "many",
    "too_many",
    "placeholder",
]


def test_values_at_the_child_bounds_cross_and_those_past_them_arrive_opaque(
    tmp_path: Path,
) -> None:
    job = Job(
        cells=[Cell(0, BOUNDARY_CELL, "cell 0")],
        # Each extraction is a message of its own: the million floats fill most of one.
        extractions=[Extraction("ex", BOUNDARY_NAMES), Extraction("wide", ["wide"])],
    )
    snapshots = across(job, tmp_path).snapshots
    got = snapshots["ex"].values
    assert [a.dtype.str for a in got["typed"]] == [
        "|b1",
        "<i8",
        "<i8",
        "<i8",
        "<u8",
        "<f8",
        "<f8",
        "<c16",
    ]
    assert all(a.tolist() == [1, 0] for a in got["typed"])
    assert np.array_equal(snapshots["wide"].values["wide"], np.linspace(0, 1, 1_000_000))
    assert got["text"] == "s" * child.MAX_STR_CHARS
    assert got["big"] == 2**child.MAX_INT_BITS - 1
    depth, inner = 0, got["deep"]
    while isinstance(inner, list):
        depth, inner = depth + 1, inner[0]
    assert (depth, inner) == (child.MAX_DEPTH, 1)
    assert got["many"] == [0.5] * 30_000
    assert got["placeholder"] is PLACEHOLDER
    for name in ("too_long", "too_big", "too_many"):
        assert isinstance(got[name], Opaque), name
    inner = got["too_deep"]
    while isinstance(inner, list):
        inner = inner[0]
    assert isinstance(inner, Opaque)


def test_every_cell_status_the_child_sends_is_one_the_grader_takes(tmp_path: Path) -> None:
    long_name = "E" * (2 * child.NAME_CAP)
    job = Job(
        cells=[
            Cell(0, "x = 1", "cell 0"),
            Cell(1, f"class {long_name}(Exception): pass\nraise {long_name}('m' * 10**5)", "c1"),
            Cell(2, "while True:\n    pass", "cell 2"),
            Cell(3, "hoard = np.empty(2**50)", "cell 3"),
            Cell(4, "def f(a):\n    raise ValueError(a)", "cell 4"),
        ],
        extractions=[Extraction("ex", ["x"], [Call("f", {"a": "v" * 10**5})], after=4)],
    )
    outcome = across(job, tmp_path, cell_seconds=0.3)
    assert [cell.status for cell in outcome.cells] == [
        CellStatus.OK,
        CellStatus.ERROR,
        CellStatus.TIMEOUT,
        CellStatus.MEMORY,
        CellStatus.OK,
    ]
    error = outcome.cells[1]
    assert error.exception == long_name[: child.NAME_CAP]
    assert error.message == "m" * child.TEXT_CAP
    [failure] = outcome.snapshots["ex"].calls
    assert isinstance(failure, CallFailure) and failure.exception == "ValueError"


# --- any bytes: values or a channel error ---------------------------------------------

JOB = Job(
    cells=[Cell(0, "x = y = 1", "cell 0"), Cell(1, "def f(a): return a", "cell 1")],
    extractions=[
        Extraction("ex", ["x", "y"]),
        Extraction("fn", [], [Call("f", {"a": 1.0}), Call("f", {"a": 2.0})], after=1),
    ],
)
CELL_REPORT = {"exception": None, "message": None, "line": None, "code": None}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
hex_floats = st.floats().map(float.hex) | st.text(max_size=12)
array_data = st.binary(max_size=48).map(lambda raw: base64.b64encode(raw).decode())
# Nodes shaped like the protocol's values, most of them slightly wrong.
value_nodes = st.recursive(
    st.fixed_dictionaries(
        {"t": st.sampled_from(["none", "placeholder", "bool", "int", "float", "complex"])},
        optional={
            "v": st.one_of(json_values, hex_floats, st.from_regex(r"-?[0-9a-f]{1,8}")),
            "re": hex_floats,
            "im": hex_floats,
        },
    )
    | st.fixed_dictionaries(
        {"t": st.sampled_from(["str", "symbolic", "opaque"])},
        optional={"v": st.text(max_size=8), "type": st.text(max_size=8), "summary": scalars},
    )
    | st.fixed_dictionaries(
        {
            "t": st.just("array"),
            "dtype": st.sampled_from([*protocol.WIRE_DTYPES, "object", ">f8", "<f8"]),
            "shape": st.lists(st.integers(min_value=-1, max_value=6), max_size=4),
            "data": array_data | st.text(max_size=8),
        }
    )
    | json_values,
    lambda inner: st.fixed_dictionaries(
        {"t": st.sampled_from(["list", "tuple"]), "items": st.lists(inner, max_size=4)}
    ),
    max_leaves=10,
)
call_nodes = value_nodes | st.fixed_dictionaries(
    {"t": st.just("call_failure")},
    optional={
        "exception": scalars,
        "message": scalars,
        "line": st.integers(min_value=-1, max_value=5) | st.none(),
        "code": scalars,
    },
)
statuses = st.sampled_from([*CellStatus, "bogus"]) | json_values
messages = st.one_of(
    st.fixed_dictionaries({"type": st.just("start"), "cell": st.integers(-1, 2) | json_values}),
    st.fixed_dictionaries(
        {
            "type": st.just("cell"),
            "cell": st.integers(-1, 2),
            "status": statuses,
            "exception": st.none() | scalars,
            "message": st.none() | scalars,
            "line": st.none() | st.integers(-1, 5),
            "code": st.none() | scalars,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("snapshot"),
            "cell": st.integers(-1, 2),
            "extraction": st.integers(-1, 2),
            "values": st.dictionaries(st.sampled_from(["x", "y", "z"]), value_nodes, max_size=3),
            "calls": st.lists(call_nodes, max_size=3),
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["done", "other", 1])}),
    json_values,
)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


@st.composite
def script(draw: st.DrawFn) -> list[object]:
    """The messages an honest child sends for JOB, with fields drawn from what a hostile
    one might put there, some messages dropped or replaced, and more appended: most of
    them get past the order checks to the status check and the value decoder."""
    cell = {
        "exception": st.none() | scalars,
        "message": st.none() | scalars,
        "line": st.none() | st.integers(-1, 5),
        "code": st.none() | scalars,
    }
    honest = [
        {"type": "start", "cell": 0},
        {"type": "cell", "cell": 0, "status": draw(statuses), **draw(st.fixed_dictionaries(cell))},
        {
            "type": "snapshot",
            "cell": 0,
            "extraction": 0,
            "values": draw(st.dictionaries(st.sampled_from(["x", "y"]), value_nodes)),
            "calls": [],
        },
        {"type": "start", "cell": 1},
        {"type": "cell", "cell": 1, "status": draw(statuses), **draw(st.fixed_dictionaries(cell))},
        {
            "type": "snapshot",
            "cell": 1,
            "extraction": 1,
            "values": {},
            "calls": draw(st.lists(call_nodes, min_size=2, max_size=2)),
        },
        {"type": "done"},
    ]
    sent = []
    for message in honest:
        fate = draw(st.sampled_from(["sent"] * 8 + ["dropped", "replaced"]))
        if fate != "dropped":
            sent.append(message if fate == "sent" else draw(messages))
    return sent + draw(st.lists(messages, max_size=2))


@st.composite
def channel_bytes(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """What a child might write: framed messages, framed garbage, raw garbage, perhaps
    corrupted, and where the grader's reads split it."""
    bodies = [json.dumps(message).encode() for message in draw(script())]
    bodies += draw(st.lists(st.binary(max_size=30), max_size=2))
    data = bytearray(b"".join(frame(body) for body in bodies))
    data += draw(st.binary(max_size=12))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 3])) if data else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    return bytes(data), cuts


def plain(value: object) -> bool:
    """Whether a decoded value is plain data, as the comparisons expect."""
    if isinstance(value, (list, tuple)):
        return all(plain(item) for item in value)
    if isinstance(value, np.ndarray):
        return value.dtype.str in protocol.WIRE_DTYPES.values()
    return value is None or value is PLACEHOLDER or type(value) in PLAIN_TYPES


PLAIN_TYPES = (bool, int, float, complex, str, SymbolicText, Opaque, CallFailure)


@settings(
    max_examples=400,
    deadline=None,  # time is bounded below, in CPU time, which load does not stretch
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(channel_bytes())
def test_any_bytes_give_plain_values_or_a_channel_error(written: tuple[bytes, list[int]]) -> None:
    data, cuts = written
    replies = replies_to(JOB)
    reader = protocol.FrameReader()
    began = time.thread_time()
    try:
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            for message in reader.feed(data[start:end]):
                replies.handle(message)
    except protocol.ChannelError:
        pass
    outcome = replies.outcome(
        Termination.CRASHED, stdout="", stderr="", isolation=Isolation.PROCESS, duration=0.0
    )
    assert time.thread_time() - began < 1.0
    assert len(outcome.cells) == len(JOB.cells)
    assert all(isinstance(cell.status, CellStatus) for cell in outcome.cells)
    calls = {extraction.exercise: len(extraction.calls) for extraction in JOB.extractions}
    for snapshot in outcome.snapshots.values():
        assert plain(list(snapshot.values.values())) and plain(snapshot.calls)
        assert len(snapshot.calls) == calls[snapshot.exercise]


@pytest.mark.parametrize("length", [protocol.MAX_FRAME_BYTES + 1, 2**32 - 1])
def test_a_frame_declared_too_large_is_refused_before_its_body_arrives(length: int) -> None:
    with pytest.raises(protocol.ChannelError):
        list(protocol.FrameReader().feed(struct.pack(">I", length)))

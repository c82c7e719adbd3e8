"""The wire protocol, grader's side: the job as JSON, the child's messages checked.

The child (``child.py``) writes within the same bounds and dtypes, in a copy of its own:
it is the one file mounted into the sandbox and imports nothing of this package.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator

from ..values import PLACEHOLDER, CallFailure, Opaque, SymbolicText
from .data import (
    MB,
    Cell,
    CellReport,
    CellStatus,
    Extraction,
    Isolation,
    Job,
    Outcome,
    Snapshot,
    Termination,
)

# Bounds on what the decoder accepts (the child keeps within them). A frame is counted
# before it is parsed: its bytes, and its JSON values (bounded by the bytes "[{,:" that
# precede every value but the first), which set what json.loads costs this process, with
# the GIL held: about 100 bytes of memory per value. The largest honest answer is arrays of
# a few thousand floats, which cross as raw bytes in one string each.
MAX_FRAME_BYTES = 16 * MB
MAX_FRAME_VALUES = 256 * 1024
MAX_CHANNEL_BYTES = 128 * MB
MAX_CHANNEL_VALUES = 4 * MAX_FRAME_VALUES
MAX_DEPTH = 32
MAX_ITEMS = MAX_FRAME_VALUES
MAX_ARRAY_ELEMENTS = 10**7
MAX_TEXT_CHARS = 100_000
MAX_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 2_000
WIRE_DTYPES = {
    "bool": "|b1",
    "int64": "<i8",
    "uint64": "<u8",
    "float64": "<f8",
    "complex128": "<c16",
}
HEX_INT = re.compile(r"-?[0-9a-f]{1,1024}")
# What the child reports of a cell it ran (SKIPPED is the grader's word for one it did not).
SENT_CELL_STATUSES = tuple(status for status in CellStatus if status != CellStatus.SKIPPED)
MEMORY_EXIT = 86  # the exit status of a runner that found no memory left (child.py)


def snapshot_plan(job: Job, assigned: list[list[str]]) -> list[list[int]]:
    """For each cell, the extractions to snapshot after it: those meant for that cell, or
    without a cell, those whose names it binds."""

    def wanted(extraction: Extraction, cell: Cell, cell_names: list[str]) -> bool:
        if extraction.after is not None:
            return cell.index == extraction.after
        names = set(extraction.names) | {call.function for call in extraction.calls}
        return not names.isdisjoint(cell_names)

    return [
        [position for position, e in enumerate(job.extractions) if wanted(e, cell, cell_names)]
        for cell, cell_names in zip(job.cells, assigned, strict=True)
    ]


def encode_job(job: Job, plan: list[list[int]], cell_seconds: float) -> bytes:
    document = {
        "cell_seconds": cell_seconds,
        "prelude": job.prelude,
        "lazy_modules": dict(job.lazy_modules),
        "cells": [
            {"source": cell.source, "filename": cell.filename, "snapshots": snapshots}
            for cell, snapshots in zip(job.cells, plan, strict=True)
        ],
        "extractions": [
            {
                "names": list(extraction.names),
                "calls": [
                    {
                        "function": call.function,
                        "kwargs": {k: _encode_argument(v) for k, v in call.kwargs.items()},
                    }
                    for call in extraction.calls
                ],
            }
            for extraction in job.extractions
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _encode_argument(value: object) -> dict[str, object]:
    """A call argument (trusted, from the exercise spec) in the wire format."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": format(value, "x")}
    if isinstance(value, float):
        return {"t": "float", "v": value.hex()}
    if isinstance(value, complex):
        return {"t": "complex", "re": value.real.hex(), "im": value.imag.hex()}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {"t": kind, "items": [_encode_argument(item) for item in value]}
    if type(value).__module__ == "numpy":
        return _encode_numpy_argument(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def _encode_numpy_argument(value: object) -> dict[str, object]:
    import numpy as np

    if isinstance(value, np.generic):
        return _encode_argument(value.item())
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc":
        raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")
    kind = value.dtype.kind
    wire = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "c": "complex128"}[kind]
    if kind == "u" and value.dtype.itemsize == 8:
        wire = "uint64"
    data = np.ascontiguousarray(value, dtype=WIRE_DTYPES[wire]).tobytes()
    return {
        "t": "array",
        "dtype": wire,
        "shape": list(value.shape),
        "data": base64.b64encode(data).decode(),
    }


# --- what comes back -------------------------------------------------------------------


class ChannelError(Exception):
    """The child broke the protocol: the run ends as "channel_error"."""


class FrameReader:
    """Splits the channel's bytes into length-prefixed JSON messages, each one's cost
    bounded before it is parsed."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.total = 0
        self.values = 0

    def feed(self, data: bytes) -> Iterator[object]:
        """The messages completed by these bytes, one at a time: those before a bad
        one are handled before it raises."""
        self.total += len(data)
        if self.total > MAX_CHANNEL_BYTES:
            raise ChannelError("too much data on the channel")
        self.buffer += data
        while len(self.buffer) >= 4:
            length = int.from_bytes(self.buffer[:4], "big")
            if length > MAX_FRAME_BYTES:
                raise ChannelError("message too large")
            if len(self.buffer) < 4 + length:
                break
            body = self.buffer[4 : 4 + length]  # a copy already: json reads a bytearray
            del self.buffer[: 4 + length]
            values = sum(body.count(mark) for mark in b"[{,:")
            self.values += values
            if values > MAX_FRAME_VALUES or self.values > MAX_CHANNEL_VALUES:
                raise ChannelError("too many values in a message")
            yield parse_json(body)


def parse_json(body: bytes | bytearray) -> object:
    try:
        return json.loads(body, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ChannelError(f"malformed message: {exc}") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not sent as a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


class Protocol:
    """Checks the child's messages against the job, in order, and gathers the outcome.

    Per cell: "start", then "cell" (its report), then a "snapshot" for each extraction the
    plan names for it; "done" after the last cell.
    """

    def __init__(self, job: Job, assigned: list[list[str]], plan: list[list[int]]) -> None:
        self.job = job
        self.assigned = assigned
        self.plan = plan
        self.reports: list[CellReport] = []
        self.running: int | None = None
        self.taken: set[int] = set()  # extractions snapshotted after the last cell
        self.snapshots: dict[str, Snapshot] = {}
        self.done = False

    def handle(self, message: object) -> None:
        if not isinstance(message, dict) or self.done:
            raise ChannelError("unexpected message")
        handlers = {
            "start": self._start,
            "cell": self._cell,
            "snapshot": self._snapshot,
            "done": self._done,
        }
        kind = message.get("type")
        handler = handlers.get(kind) if type(kind) is str else None
        if handler is None:
            raise ChannelError("unknown message type")
        handler(message)

    def _start(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell"})
        if self.running is not None or _integer(message["cell"]) != len(self.reports):
            raise ChannelError("cell started out of order")
        self.running = len(self.reports)
        self.taken = set()

    def _cell(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell", "status", "exception", "message", "line", "code"})
        position = self.running
        if position is None or _integer(message["cell"]) != position:
            raise ChannelError("report for a cell that is not running")
        # A tuple, not a set: membership by equality, so an unhashable status is refused too.
        if message["status"] not in SENT_CELL_STATUSES:
            raise ChannelError("unknown cell status")
        line = message["line"]
        self.reports.append(
            CellReport(
                index=self.job.cells[position].index,
                status=CellStatus(message["status"]),
                assigned=self.assigned[position],
                exception=_optional_text(message["exception"], MAX_NAME_CHARS),
                message=_optional_text(message["message"], MAX_MESSAGE_CHARS),
                line=None if line is None else _integer(line, minimum=1),
                code=_optional_text(message["code"], MAX_MESSAGE_CHARS),
            )
        )
        self.running = None

    def _snapshot(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type", "cell", "extraction", "values", "calls"})
        position = len(self.reports) - 1
        if self.running is not None or _integer(message["cell"]) != position:
            raise ChannelError("snapshot out of order")
        number = _integer(message["extraction"])
        if number not in self.plan[position] or number in self.taken:
            raise ChannelError("snapshot not asked for")
        self.taken.add(number)
        extraction = self.job.extractions[number]
        values, calls = message["values"], message["calls"]
        if not isinstance(values, dict) or not set(values) <= set(extraction.names):
            raise ChannelError("snapshot of names not asked for")
        if not isinstance(calls, list) or len(calls) != len(extraction.calls):
            raise ChannelError("wrong number of call results")
        self.snapshots[extraction.exercise] = Snapshot(
            exercise=extraction.exercise,
            after_cell=self.job.cells[position].index,
            values={name: decode_value(node) for name, node in values.items()},
            calls=[_decode_call(node) for node in calls],
        )

    def _done(self, message: dict[str, object]) -> None:
        _expect_keys(message, {"type"})
        if self.running is not None or len(self.reports) != len(self.job.cells):
            raise ChannelError("done before the last cell")
        self.done = True

    def outcome(
        self,
        termination: Termination,
        *,
        stdout: str,
        stderr: str,
        isolation: Isolation,
        duration: float,
    ) -> Outcome:
        """The reports, with the cells the run did not finish filled in."""
        # The cell running when the run was stopped is where the limit was hit; the
        # cells after it were never reached.
        running_status = {
            Termination.TIMEOUT: CellStatus.TIMEOUT,
            Termination.MEMORY_LIMIT: CellStatus.MEMORY,
        }.get(termination, CellStatus.SKIPPED)
        cells = list(self.reports)
        for position in range(len(self.reports), len(self.job.cells)):
            status = running_status if position == self.running else CellStatus.SKIPPED
            cells.append(
                CellReport(self.job.cells[position].index, status, self.assigned[position])
            )
        return Outcome(
            cells=cells,
            snapshots=self.snapshots,
            termination=termination,
            stdout=stdout,
            stderr=stderr,
            isolation=isolation,
            duration=duration,
            setup_failed=not self.done and not self.reports and self.running is None,
        )


def _expect_keys(node: dict[str, object], keys: set[str]) -> None:
    if set(node) != keys:
        raise ChannelError(f"expected the fields {sorted(keys)}")


def _integer(value: object, minimum: int = 0) -> int:
    # type() and not isinstance(): JSON true is not a cell number.
    if type(value) is not int or not minimum <= value <= 10**9:
        raise ChannelError("bad integer")
    return value


def _text(value: object, limit: int) -> str:
    if type(value) is not str or len(value) > limit:
        raise ChannelError("bad text")
    return _valid_text(value)


def _valid_text(text: str) -> str:
    """The text with each lone surrogate (JSON's "\\ud800" makes one; no encoder writes
    one) replaced by U+FFFD: every string the sandbox hands back can be printed and saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _optional_text(value: object, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


def _float(value: object) -> float:
    try:
        return float.fromhex(_text(value, 40))
    except ValueError:
        raise ChannelError("bad float") from None


def _decode_call(node: object) -> object:
    if isinstance(node, dict) and node.get("t") == "call_failure":
        _expect_keys(node, {"t", "exception", "message", "line", "code"})
        line = node["line"]
        return CallFailure(
            exception=_text(node["exception"], MAX_NAME_CHARS),
            message=_text(node["message"], MAX_MESSAGE_CHARS),
            line=None if line is None else _integer(line, minimum=1),
            code=_optional_text(node["code"], MAX_MESSAGE_CHARS),
        )
    return decode_value(node)


def decode_value(node: object, depth: int = 0) -> object:
    """One value from the wire, checked field by field; anything else is a channel error."""
    kind = node.get("t") if isinstance(node, dict) else None
    if kind in ("none", "placeholder"):
        _expect_keys(node, {"t"})
        return None if kind == "none" else PLACEHOLDER
    if kind == "bool":
        _expect_keys(node, {"t", "v"})
        if type(node["v"]) is not bool:
            raise ChannelError("bad bool")
        return node["v"]
    if kind == "int":
        _expect_keys(node, {"t", "v"})
        digits = _text(node["v"], 1025)
        if not HEX_INT.fullmatch(digits):
            raise ChannelError("bad int")
        return int(digits, 16)
    if kind == "float":
        _expect_keys(node, {"t", "v"})
        return _float(node["v"])
    if kind == "complex":
        _expect_keys(node, {"t", "re", "im"})
        return complex(_float(node["re"]), _float(node["im"]))
    if kind in ("str", "symbolic"):
        _expect_keys(node, {"t", "v"})
        text = _text(node["v"], MAX_TEXT_CHARS)
        return text if kind == "str" else SymbolicText(text)
    if kind == "opaque":
        _expect_keys(node, {"t", "type", "summary"})
        return Opaque(
            _text(node["type"], MAX_NAME_CHARS), _text(node["summary"], MAX_MESSAGE_CHARS)
        )
    if kind in ("list", "tuple"):
        _expect_keys(node, {"t", "items"})
        items = node["items"]
        if not isinstance(items, list) or len(items) > MAX_ITEMS or depth >= MAX_DEPTH:
            raise ChannelError("bad sequence")
        decoded = [decode_value(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "array":
        return _decode_array(node)
    raise ChannelError("unknown value type")


def _decode_array(node: dict[str, object]) -> object:
    import numpy as np

    _expect_keys(node, {"t", "dtype", "shape", "data"})
    dtype = WIRE_DTYPES.get(node["dtype"]) if type(node["dtype"]) is str else None
    shape = node["shape"]
    if dtype is None or not isinstance(shape, list) or len(shape) > MAX_DEPTH:
        raise ChannelError("bad array")
    size = math.prod(_integer(n) for n in shape)
    if size > MAX_ARRAY_ELEMENTS:
        raise ChannelError("array too large")
    try:
        raw = base64.b64decode(_text(node["data"], 4 * MAX_FRAME_BYTES // 3), validate=True)
    except binascii.Error:
        raise ChannelError("bad array data") from None
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise ChannelError("array data does not match its shape")
    if dtype == "|b1" and raw.translate(None, b"\x00\x01"):
        raise ChannelError("bool array holds other bytes than 0 and 1")
    return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)

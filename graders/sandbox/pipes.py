"""The grader's side of a run's pipes: the job goes in, output and messages come out."""

from __future__ import annotations

import os
import selectors
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .data import RunLimits, Termination
from .protocol import ChannelError, FrameReader, Protocol

OUTPUT_STOP_FACTOR = 16  # output beyond this many times output_kb stops the run
DRAIN_SECONDS = 0.5  # for output still in the pipes when the run ends
# The longest wait for a child between looks at the clock: any longer wake-up is time the
# grader lost (another job's work held the process), which no job's deadline counts.
LOOK_SECONDS = 0.1
EXIT_WAIT_SECONDS = 0.5  # for the exit status of a child whose channel closed early


@dataclass
class Ends:
    """One run's four pipes, by direction: the child reads the job from stdin and writes
    output and results; the grader holds the other ends."""

    stdin: int
    stdout: int
    stderr: int
    channel: int

    @classmethod
    def pair(cls) -> tuple[Ends, Ends]:
        """(the grader's ends, the child's ends), all non-inheritable."""
        job_read, job_write = os.pipe()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        channel_read, channel_write = os.pipe()
        return (
            cls(job_write, out_read, err_read, channel_read),
            cls(job_read, out_write, err_write, channel_write),
        )

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr, self.channel):
            os.close(fd)


class Pipes(ABC):
    """The grader's side of one run: it feeds the job, gathers output and messages.

    A one-off child and a pooled job differ in how they end: each says how it exited
    (``exit_status``) and kills what is left of it (``close``).
    """

    def __init__(self, ends: Ends, limits: RunLimits) -> None:
        self.stdin: int | None = ends.stdin
        self.channel = ends.channel
        self.streams = {ends.stdout: "stdout", ends.stderr: "stderr"}  # those not yet ended
        self.outputs = (ends.stdout, ends.stderr)
        kept = limits.output_kb * 1024
        self.output = _Output(kept=kept, stop_at=kept * OUTPUT_STOP_FACTOR)
        self.closed = False

    @abstractmethod
    def exit_status(self) -> int | None:
        """The exit status of a run whose channel closed, if it ends soon."""

    @abstractmethod
    def close(self) -> None:
        """Kill whatever of the run is left, collect its last output, release it."""

    def exchange(self, payload: bytes, protocol: Protocol, deadline: float) -> Termination | None:
        """Feed the job, gather output and messages until the run ends; say how it ended.

        Returns FINISHED, TIMEOUT, OUTPUT_LIMIT, CHANNEL_ERROR, or None when the channel
        closed before the child said it was done (its exit status then says why).

        The deadline counts the time the child had: waiting for it, and working on what it
        sent. Time this thread could not run (the grader busy with another job, holding
        the GIL) moves the deadline on, and what the child sent before the deadline is
        read before the run is called timed out.
        """
        assert self.stdin is not None
        pending = memoryview(payload)
        frames = FrameReader()
        with selectors.DefaultSelector() as selector:
            for fd in (*self.streams, self.channel):
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            os.set_blocking(self.stdin, False)
            selector.register(self.stdin, selectors.EVENT_WRITE)
            while True:
                wait = min(max(deadline - time.monotonic(), 0.0), LOOK_SECONDS)
                looked, worked = time.monotonic(), time.thread_time()
                for key, _ in selector.select(wait):
                    if key.fd == self.stdin:
                        pending = self._feed(pending)
                        if not pending:
                            selector.unregister(self.stdin)
                            self._close_stdin()
                    elif key.fd == self.channel:
                        data = _read(self.channel)
                        if data is None:
                            continue
                        if not data:
                            return None
                        try:
                            for message in frames.feed(data):
                                protocol.handle(message)
                        except ChannelError:
                            return Termination.CHANNEL_ERROR
                        if protocol.done:
                            return Termination.FINISHED
                    elif not self._gather(selector, key.fd):
                        return Termination.OUTPUT_LIMIT
                spent = time.monotonic() - looked
                deadline += max(0.0, spent - wait - (time.thread_time() - worked))
                if wait == 0 and time.monotonic() >= deadline:
                    return Termination.TIMEOUT

    def _feed(self, pending: memoryview) -> memoryview:
        assert self.stdin is not None
        try:
            written = os.write(self.stdin, pending[: 64 * 1024])
        except BlockingIOError:
            written = 0
        except BrokenPipeError:
            written = len(pending)  # the child is gone: its channel will say so
        return pending[written:]

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def _drain(self, until: float) -> None:
        with selectors.DefaultSelector() as selector:
            for fd in self.streams:
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            while self.streams and (timeout := until - time.monotonic()) > 0:
                for key, _ in selector.select(timeout):
                    self._gather(selector, key.fd)  # past the limit: the run is over anyway

    def _gather(self, selector: selectors.BaseSelector, fd: int) -> bool:
        """Read what an output stream has (forgetting it once it ended); False once the
        output is past its stopping point."""
        data = _read(fd)
        if data == b"":
            selector.unregister(fd)
            del self.streams[fd]
        return not data or self.output.add(self.streams[fd], data)

    def _close_pipes(self) -> None:
        self._close_stdin()
        for fd in (*self.outputs, self.channel):
            os.close(fd)
        self.streams = {}


def _read(fd: int) -> bytes | None:
    """What a ready pipe holds: b"" at its end, None if nothing after all."""
    try:
        return os.read(fd, 256 * 1024)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class _Output:
    """stdout and stderr: the first ``kept`` bytes of each are kept; past ``stop_at``
    bytes in all, the run is stopped."""

    def __init__(self, kept: int, stop_at: int) -> None:
        self.kept = kept
        self.stop_at = stop_at
        self.total = 0
        self.data = {"stdout": bytearray(), "stderr": bytearray()}

    def add(self, stream: str, data: bytes) -> bool:
        """Record output; False once there has been too much of it."""
        buffer = self.data[stream]
        buffer += data[: max(0, self.kept - len(buffer))]
        self.total += len(data)
        return self.total <= self.stop_at

    def text(self, stream: str) -> str:
        return self.data[stream].decode("utf-8", errors="replace")

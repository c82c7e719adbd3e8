"""Hostile hand-ins at the sandbox boundary: what they send back can cost the grader only
bounded work, never crashes it, and never hides a limit the run hit."""

from __future__ import annotations

import ctypes
import json
import subprocess
import textwrap
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import require_bubblewrap, run_cli, run_cli_json
from graders import batch, engine, sandbox, source_analysis, spec, submission
from graders.results import Status
from graders.sandbox import Cell, Extraction, Job, protocol
from graders.values import Opaque

ANSWERS = """\
t = np.arange(0, 10, .1)
tau = 0.5
du_dt = 1
dv_dt = -1/tau * np.exp(-t/tau)
"""
PARSER_BOMB = "du_dt = " + "-" * 100_000 + "1\n"
DEEPLY_NESTED = "x = " + "a+" * 100_000 + "a\n"  # RecursionError building the tree


def hand_in(tmp_path: Path, source: str, name: str = "hand_in.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# --- lone surrogates -------------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "tail",
    [
        'raise ValueError("\\ud800")',
        'E = type("E", (Exception,), {})\nE.__qualname__ = "Bad\\udc80"\nraise E("boom")',
        'class Odd:\n    pass\nOdd.__qualname__ = "Odd\\ud800"\ndf_dt = Odd()',
    ],
    ids=["message", "exception class", "answer's class"],
)
def test_lone_surrogates_from_the_sandbox_become_replacement_characters(
    tmp_path: Path, tail: str
) -> None:
    path = hand_in(tmp_path, ANSWERS + tail + "\n")
    code, report = run_cli_json("check", "product_rule_alpha", str(path))
    assert code == 1  # graded, not full marks: never "internal error"
    product = report["exercises"][0]
    assert product["score"] == 2.0  # the answers before it still count
    assert "\ufffd" in json.dumps(report, ensure_ascii=False)
    for suffix in (".html", ".md"):
        written = tmp_path / f"report{suffix}"
        completed = run_cli("check", "product_rule_alpha", str(path), "--report", str(written))
        assert completed.returncode == 1, completed.stderr
        assert "\ufffd" in written.read_text(encoding="utf-8")


def test_decoded_text_is_always_encodable() -> None:
    node = {"t": "opaque", "type": "X\ud800", "summary": "a\udfffb"}
    decoded = protocol.decode_value(node)
    assert decoded.type_name.encode() and decoded.summary == "a\ufffdb"


# --- code that Python's parser cannot take ------------------------------------------


@pytest.mark.parametrize("source", [PARSER_BOMB, DEEPLY_NESTED], ids=["stack", "recursion"])
def test_static_analysis_treats_unparseable_nesting_as_unparseable(source: str) -> None:
    assert source_analysis.parse(source) is None
    assert source_analysis.assigned_names(source) == []
    assert source_analysis.packages_used(source, {"plt": "matplotlib.pyplot"}) == set()


@pytest.mark.sandbox
def test_a_parser_bomb_is_reported_as_code_that_cannot_be_parsed(tmp_path: Path) -> None:
    code, report = run_cli_json("check", "product_rule_alpha", str(hand_in(tmp_path, PARSER_BOMB)))
    assert code == 1
    product = report["exercises"][0]
    assert product["status"] == "error"
    assert "SyntaxError" in product["feedback"] and "too deeply" in product["feedback"]


# --- limits that were hit show, whatever static analysis found -------------------------


SHORT = sandbox.RunLimits(cell_seconds=1.0, total_seconds=2.0, memory_mb=512)


def grade_short(tmp_path: Path, source: str):
    """Grade a .py against product_rule_alpha with short limits; its one exercise."""
    loaded = submission.load(hand_in(tmp_path, source))
    result = engine.grade(loaded, [spec.find("product_rule_alpha")], run=sandbox.start(SHORT))
    return result.exercises[0]


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("source", "status", "words"),
    [
        ("globals().update(du_dt=1)\nwhile True:\n    pass\n", Status.TIMEOUT, "time limit"),
        ('exec("du_dt = 1")\nimport time\ntime.sleep(60)\n', Status.TIMEOUT, "time limit"),
        (
            # One allocation past the limit: refused at once, however loaded the machine.
            'globals()["du_dt"] = 1\nx = bytearray(2**31)\n',
            Status.MEMORY_LIMIT,
            "ran out of memory",
        ),
    ],
    ids=["loop", "sleep", "memory"],
)
def test_a_limit_hit_by_answers_bound_out_of_sight_is_reported(
    tmp_path: Path, source: str, status: Status, words: str
) -> None:
    product = grade_short(tmp_path, source)
    assert product.status == status
    assert words in product.feedback and "No answer found" not in product.feedback


@pytest.mark.sandbox
def test_a_memory_error_the_student_raises_is_their_error(tmp_path: Path) -> None:
    source = 'import sys\nprint("MemoryError", file=sys.stderr)\ndu_dt = 1\nraise MemoryError\n'
    product = grade_short(tmp_path, source)
    assert product.status == Status.ERROR
    assert "raised MemoryError" in product.feedback


@pytest.mark.sandbox
def test_memory_words_on_stderr_before_an_exit_are_not_the_memory_limit(tmp_path: Path) -> None:
    source = (
        "import os, sys\ndu_dt = 1\n"
        'print("MemoryError: Cannot allocate memory", file=sys.stderr, flush=True)\n'
        "os._exit(1)\n"
    )
    product = grade_short(tmp_path, source)
    assert product.status == Status.ERROR
    assert "ended early" in product.feedback


@pytest.mark.sandbox
def test_an_allocation_refused_by_the_limit_is_the_memory_limit(tmp_path: Path) -> None:
    product = grade_short(tmp_path, "du_dt = 1\nbig = np.ones(2**31)\n")
    assert product.status == Status.MEMORY_LIMIT


# --- what a frame may cost the grader --------------------------------------------------


def frame_bomb(elements: int) -> str:
    """Student code that writes one frame of ``[[0.5],[0.5],...]`` onto the result pipe."""
    return textwrap.dedent(
        f"""
        import os, struct, sys
        body = b"[" + b"[0.5]," * {elements} + b"[0.5]]"
        frame = memoryview(struct.pack(">I", len(body)) + body)
        while frame:
            frame = frame[os.write(int(sys.argv[1]), frame) :]
        """
    )


def test_a_frame_of_tiny_values_is_refused_before_it_is_parsed() -> None:
    body = b"[" + b"[0.5]," * 300_000 + b"[0.5]]"  # 1.8 MB, far below the byte cap
    with pytest.raises(protocol.ChannelError):
        list(protocol.FrameReader().feed(len(body).to_bytes(4, "big") + body))


@pytest.mark.sandbox
def test_a_frame_bomb_costs_the_grader_little_memory() -> None:
    job = Job([Cell(0, "x = 1", "cell 0"), Cell(1, frame_bomb(1_400_000), "cell 1")])
    tracemalloc.start()
    try:
        outcome = sandbox.run(job, SHORT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.termination == "channel_error"
    # The frame is 8.4 MB; parsing it would take about 140 MB.
    assert peak < 40 * 2**20


@pytest.mark.sandbox
def test_honest_values_too_large_for_a_frame_cross_as_opaque() -> None:
    source = "small = np.linspace(0, 1, 5000)\nmany = [0.5] * 300_000\nbig = np.ones(2_000_000)"
    job = Job(
        [Cell(0, source, "cell 0")],
        extractions=[Extraction("ex", ["small", "many", "big"])],
    )
    outcome = sandbox.run(job, SHORT)
    assert outcome.termination == "finished"
    got = outcome.snapshots["ex"].values
    assert got["small"].shape == (5000,)
    assert isinstance(got["many"], Opaque) and isinstance(got["big"], Opaque)


@pytest.mark.sandbox
def test_time_the_grader_lost_does_not_count_against_a_job() -> None:
    # The soft limit, inside the child, is not what this is about.
    run = sandbox.start(sandbox.RunLimits(cell_seconds=10.0, total_seconds=1.5))
    outcome: list[sandbox.Outcome] = []
    # Its output overfills the pipe: the child waits for the grader to read it.
    source = "import time\ntime.sleep(0.3)\nprint('x' * 1_000_000)\nx = 1"
    job = Job([Cell(0, source, "cell 0")], extractions=[Extraction("ex", ["x"])])
    grading = threading.Thread(target=lambda: outcome.append(run.submit(job)))
    grading.start()
    time.sleep(0.1)  # the job is sent; the child prints while the grader cannot read
    # Another job's work holding the GIL for longer than this job's whole time limit.
    ctypes.PyDLL(None).sleep(3)
    grading.join()
    assert outcome[0].termination == "finished"
    assert outcome[0].snapshots["ex"].values == {"x": 1}


# --- limits, applied where they cannot deadlock -----------------------------------------


@pytest.mark.sandbox
def test_a_one_off_child_confines_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[dict] = []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        spawned.append(kwargs)
        return popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    source = "import resource\nmemory = resource.getrlimit(resource.RLIMIT_AS)"
    job = Job([Cell(0, source, "cell 0")], extractions=[Extraction("ex", ["memory"])])
    # From a grader with threads, where code between fork and exec may deadlock.
    with ThreadPoolExecutor(2) as threads:
        outcome = threads.submit(sandbox.run, job, SHORT).result()
    assert "preexec_fn" not in spawned[-1]
    limit = SHORT.memory_mb * 2**20
    assert outcome.snapshots["ex"].values["memory"] == (limit, limit)


def test_a_batch_keeps_one_pool_per_preload_whatever_the_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, ...]] = []
    monkeypatch.setattr(
        batch.sandbox, "Pool", lambda workers, limits, preload: made.append(preload) or _NoPool()
    )
    sandboxes = batch.Sandboxes(2)
    for limits in (SHORT, sandbox.RunLimits(), sandbox.RunLimits(total_seconds=180)):
        sandboxes.run_for(limits, ())
        sandboxes.run_for(limits, batch.WARM_LIBRARIES)
    assert made == [(), batch.WARM_LIBRARIES]


class _NoPool:
    def __enter__(self) -> _NoPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


# --- matplotlib's font list ------------------------------------------------------------

FONT_LIST_USED = """
import logging, os
messages = []
handler = logging.Handler()
handler.emit = lambda record: messages.append(record.getMessage())
log = logging.getLogger("matplotlib.font_manager")
log.addHandler(handler)
log.setLevel(logging.DEBUG)
import matplotlib, matplotlib.font_manager
from_cache = any(m.startswith("Using fontManager instance") for m in messages)
path = os.path.join(matplotlib.get_cachedir(), next(
    name for name in os.listdir(matplotlib.get_cachedir()) if name.startswith("fontlist")
))
try:
    with open(path, "w") as poison:
        poison.write("{}")
    poisoned = True
except OSError:
    poisoned = False
"""


@pytest.mark.sandbox
@pytest.mark.parametrize("isolation", ["bubblewrap", "process"])
def test_one_off_runs_read_a_font_list_built_once_that_they_cannot_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    if isolation == "bubblewrap":
        monkeypatch.delenv("GRADERS_SANDBOX", raising=False)
        require_bubblewrap()
    else:
        monkeypatch.setenv("GRADERS_SANDBOX", "process")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sandbox.font_list.cache_clear()
    names = ["from_cache", "poisoned"]
    job = Job([Cell(0, FONT_LIST_USED, "cell 0")], extractions=[Extraction("ex", names)])
    try:
        first = sandbox.run(job, sandbox.RunLimits(cell_seconds=20.0, total_seconds=30.0))
        built = sandbox.font_list(isolation)
        content = built.read_bytes()
        second = sandbox.run(job, sandbox.RunLimits(cell_seconds=20.0, total_seconds=30.0))
    finally:
        sandbox.font_list.cache_clear()
    assert built is not None and built.is_relative_to(tmp_path)
    assert first.snapshots["ex"].values["from_cache"] is True
    if isolation == "bubblewrap":
        assert first.snapshots["ex"].values["poisoned"] is False
    assert built.read_bytes() == content  # nothing a run did reaches the next
    assert second.snapshots["ex"].values["from_cache"] is True

"""Hostile hand-ins at the sandbox boundary: what they send back can cost the grader only
bounded work, never crashes it, and never hides a limit the run hit."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli, run_cli_json
from graders import engine, sandbox, spec, submission
from graders.results import Status

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
    decoded = sandbox._decode_value(node)
    assert decoded.type_name.encode() and decoded.summary == "a\ufffdb"


# --- code that Python's parser cannot take ------------------------------------------


@pytest.mark.parametrize("source", [PARSER_BOMB, DEEPLY_NESTED], ids=["stack", "recursion"])
def test_static_analysis_treats_unparseable_nesting_as_unparseable(source: str) -> None:
    assert sandbox.parse(source) is None
    assert sandbox.assigned_names(source) == []
    assert sandbox.packages_used(source, {"plt": "matplotlib.pyplot"}) == set()


def test_a_parser_bomb_is_reported_as_code_that_cannot_be_parsed(tmp_path: Path) -> None:
    code, report = run_cli_json("check", "product_rule_alpha", str(hand_in(tmp_path, PARSER_BOMB)))
    assert code == 1
    product = report["exercises"][0]
    assert product["status"] == "error"
    assert "SyntaxError" in product["feedback"] and "too deeply" in product["feedback"]


# --- limits that were hit show, whatever static analysis found -------------------------


SHORT = sandbox.Limits(cell_seconds=1.0, total_seconds=2.0, memory_mb=512)


def grade_short(tmp_path: Path, source: str):
    """Grade a .py against product_rule_alpha with short limits; its one exercise."""
    loaded = submission.load(hand_in(tmp_path, source))
    result = engine.grade(loaded, [spec.find("product_rule_alpha")], run=sandbox.start(SHORT))
    return result.exercises[0]


@pytest.mark.parametrize(
    ("source", "status", "words"),
    [
        ("globals().update(du_dt=1)\nwhile True:\n    pass\n", Status.TIMEOUT, "time limit"),
        ('exec("du_dt = 1")\nimport time\ntime.sleep(60)\n', Status.TIMEOUT, "time limit"),
        (
            'globals()["du_dt"] = 1\nx = [bytearray(2**20) for _ in range(100_000)]\n',
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


def test_a_memory_error_the_student_raises_is_their_error(tmp_path: Path) -> None:
    source = 'import sys\nprint("MemoryError", file=sys.stderr)\ndu_dt = 1\nraise MemoryError\n'
    product = grade_short(tmp_path, source)
    assert product.status == Status.ERROR
    assert "raised MemoryError" in product.feedback


def test_memory_words_on_stderr_before_an_exit_are_not_the_memory_limit(tmp_path: Path) -> None:
    source = (
        "import os, sys\ndu_dt = 1\n"
        'print("MemoryError: Cannot allocate memory", file=sys.stderr, flush=True)\n'
        "os._exit(1)\n"
    )
    product = grade_short(tmp_path, source)
    assert product.status == Status.ERROR
    assert "ended early" in product.feedback


def test_an_allocation_refused_by_the_limit_is_the_memory_limit(tmp_path: Path) -> None:
    product = grade_short(tmp_path, "du_dt = 1\nbig = np.ones(2**31)\n")
    assert product.status == Status.MEMORY_LIMIT

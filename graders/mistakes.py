"""`grade.py mistakes OUT_DIR`: the wrong answers a finished batch's class shares.

Read from the batch's gradebook (``OUT_DIR/gradebook.sqlite``), one row at a time: every
group of two or more students who gave a check the same wrong values, the largest first,
with its diagnosis and, where the spec declares none, a ``mistakes:`` entry to paste.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from .batch import GRADEBOOK
from .errors import EXIT_OK, CommandError
from .gradebook import Gradebook, GradebookError
from .reports.groups import Group, SharedAnswers
from .safe_text import UNSAFE, clean


def mistakes(out: Path, exercise: str | None = None, *, as_json: bool = False) -> int:
    """Print the groups of the batch in ``out`` (only ``exercise``'s, if given)."""
    groups, graded = _groups(out)
    if exercise is not None:
        if exercise not in graded:
            listed = ", ".join(sorted(graded)) or "none"
            raise CommandError(
                f"{out}: the batch graded no exercise {exercise} (it graded {listed})"
            )
        groups = [group for group in groups if group.exercise == exercise]
    print(_as_json(groups) if as_json else _as_text(groups), end="")
    return EXIT_OK


def _groups(out: Path) -> tuple[list[Group], set[str]]:
    """Every group of two or more, and the exercises the batch graded."""
    if not out.is_dir():
        raise CommandError(f"{out}: no such folder")
    path = out / GRADEBOOK
    if not path.is_file():
        raise CommandError(f"{out}: not the output folder of a batch (no {GRADEBOOK} in it)")
    try:
        gradebook = Gradebook(path, create=False)
    except GradebookError as exc:
        raise CommandError(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise CommandError(f"{path}: not a usable gradebook ({exc})") from None
    shared = SharedAnswers(limit=None)
    graded: set[str] = set()
    try:
        for record in gradebook.iterate(evidence=True):
            shared.add(record)
            if record.result is not None:
                graded.update(exercise.id for exercise in record.result.exercises)
    finally:
        gradebook.close()
    return shared.groups(), graded


def _as_json(groups: list[Group]) -> str:
    data = {"groups": [_group_dict(group) for group in groups]}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # As `--json` of a grading: what a terminal would obey is escaped (the same strings).
    return UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", text) + "\n"


def _group_dict(group: Group) -> dict[str, Any]:
    return {
        "exercise": group.exercise,
        "check": group.check,
        "size": group.size,
        "students": [member.student for member in group.members],
        "misconception": group.misconception,
        "automatic": group.automatic,
        "suggestion": group.suggestion,
    }


def _as_text(groups: list[Group]) -> str:
    if not groups:
        return "No two students gave the same wrong values.\n"
    lines = []
    for group in groups:
        students = ", ".join(clean(member.student) for member in group.members)
        lines += [
            f"{group.exercise} / {group.check}: {group.size} students, diagnosis {group.diagnosis}",
            f"  students: {students}",
        ]
        if group.suggestion is not None:
            lines.append("  to name it, paste under the check's mistakes: in the spec")
            lines += [f"    {line}" for line in group.suggestion.splitlines()]
        lines.append("")
    return "\n".join(lines)

"""Gradescope's "Export Submissions" zip: ``submission_<id>/`` folders described by a
``submission_metadata.yml`` at the top (or a ``submission_metadata.json`` in each folder).

One hand-in per submitter (a group is one submitter); of several submissions, the latest
counts. Unreadable metadata is reported and the folders are named by themselves instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from typing import Any

import yaml

from ..handins import Entry, HandIn, Keys, MemberError, Source, choose

METADATA_YML = "submission_metadata.yml"
METADATA_JSON = "submission_metadata.json"
_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


def is_submission_folder(name: str) -> bool:
    return _FOLDER.match(name) is not None


def is_export(names: list[tuple[str, ...]]) -> bool:
    """Whether entries with these parts are a Gradescope export: its metadata file at the
    top, or nothing but submission folders."""
    return any(parts == (METADATA_YML,) for parts in names) or (
        bool(names) and all(len(parts) > 1 and is_submission_folder(parts[0]) for parts in names)
    )


def handins(entries: list[Entry], source: Source, keys: Keys) -> list[HandIn]:
    """Gradescope: one hand-in per submitter; of several submissions, the latest counts."""
    metadata = _metadata(entries, source)
    folders: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.parts != (METADATA_YML,) and entry.parts[1:] != (METADATA_JSON,):
            folders.setdefault(entry.parts[0], []).append(entry)
    by_submitter: dict[str, list[str]] = {}
    for folder in folders:
        who = metadata.get(folder, {}).get("who") or folder
        by_submitter.setdefault(who, []).append(folder)
    found = []
    for submitted in sorted(by_submitter.values()):
        folder = max(submitted, key=lambda f: (metadata.get(f, {}).get("created", 0.0), _number(f)))
        info = metadata.get(folder, {})
        student = info.get("names") or folder
        key = keys.unique(f"{student}_{info.get('sid') or _number(folder)}" if info else folder)
        candidates = [(e, e.parts[-1], (e.date, e.name)) for e in folders[folder]]
        handin = choose(key, student, candidates)
        handin.lms = {"submission_id": str(_number(folder))}
        handin.lms.update({field: info[field] for field in ("sid", "email") if info.get(field)})
        if len(submitted) > 1:
            handin.notes.append(f"{len(submitted)} submissions; graded the latest, {folder}")
        found.append(handin)
    return found


def _number(folder: str) -> int:
    match = _FOLDER.match(folder)
    return int(match["id"]) if match else 0


def _metadata(entries: list[Entry], source: Source) -> dict[str, dict[str, Any]]:
    """Per submission folder: the submitters' names, sid, email and the submission time.

    Unreadable metadata is reported and the folders are named by themselves instead.
    """
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        try:
            if entry.parts == (METADATA_YML,):
                data = _mapping(yaml.safe_load(source.read_text(entry)))
                for folder, row in data.items():
                    found[str(folder)] = _describe_yml(_mapping(row))
            elif entry.parts[1:] == (METADATA_JSON,):
                found.setdefault(
                    entry.parts[0], _describe_json(json.loads(source.read_text(entry)))
                )
        except (MemberError, ValueError, yaml.YAMLError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            source.warnings.append(f"{source.path}: {entry.name} ignored: {problem}")
    return found


def _mapping(data: Any) -> dict[Any, Any]:
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return data


def _describe_yml(data: dict[str, Any]) -> dict[str, Any]:
    # Gradescope writes Ruby symbols as keys: ":submitters", ":name", ":sid", ":email".
    users = [u for u in data.get(":submitters") or [] if isinstance(u, dict)]
    people = [(u.get(":name"), u.get(":sid"), u.get(":email")) for u in users]
    return _submitters(people, data.get(":created_at"))


def _describe_json(data: Any) -> dict[str, Any]:
    users = [u for u in _mapping(data).get("users") or [] if isinstance(u, dict)]
    people = [(u.get("name"), u.get("sid") or u.get("id"), u.get("email")) for u in users]
    return _submitters(people, data.get("created_at"))


def _submitters(people: list[tuple[Any, Any, Any]], created: Any) -> dict[str, Any]:
    def joined(position: int) -> str:
        return ", ".join(str(person[position]) for person in people if person[position])

    names, sids, emails = joined(0), joined(1), joined(2)
    return {
        "names": names,
        "sid": sids,
        "email": emails,
        "who": emails or sids or names,
        "created": _timestamp(created),
    }


def _timestamp(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.datetime.fromisoformat(value.strip()).timestamp()
    return 0.0

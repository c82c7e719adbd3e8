"""The variants of a spec, kept on disk between runs: made once per spec, not per hand-in.

A spec's file is named after a hash of everything its variants depend on (the spec, the
reference module's source, this package's diagnosis code and numpy's version), so a changed
reference or grader is never served stale values. The folder is the user's cache folder
(``$XDG_CACHE_HOME``, else ``~/.cache``, or ``$CALCULUS_GRADERS_CACHE``); when it cannot be
written the variants are simply made again by the next process. Files are read with
``allow_pickle=False``: numbers and JSON text only, nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import sandbox
from ..spec import Spec
from .variants import Variant

_CODE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    explicit = os.environ.get("CALCULUS_GRADERS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "calculus-graders" / "diagnosis"


def _conceal() -> None:
    """The variants' values tell the expected ones: no sandbox may see them."""
    folder = cache_dir()
    with contextlib.suppress(OSError):  # unwritable: nothing will be stored there
        folder.mkdir(parents=True, exist_ok=True)
    sandbox.conceal(folder)


_conceal()


@functools.cache
def _code() -> str:
    return "\0".join(path.read_text(encoding="utf-8") for path in sorted(_CODE.glob("*.py")))


def path_for(spec: Spec, source: str) -> Path:
    """The file of this spec's variants: named by a hash of all they depend on."""
    digest = hashlib.sha256()
    for part in (spec.model_dump_json(), source, np.__version__, _code()):
        digest.update(part.encode())
        digest.update(b"\0")
    return cache_dir() / f"{spec.id}-{digest.hexdigest()[:32]}.npz"


def load(path: Path) -> list[Variant] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            variants = []
            for number, fields in enumerate(meta):
                values = {
                    name: [stored[f"{number}/{name}/{case}"] for case in range(cases)]
                    for name, cases in fields.pop("cases").items()
                }
                variants.append(Variant(**fields, values=values))
            return variants
    except (OSError, ValueError, KeyError, TypeError):  # absent, or not ours: made again
        return None


def store(path: Path, variants: list[Variant]) -> None:
    folder = path.parent
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for number, variant in enumerate(variants):
        fields = {k: v for k, v in vars(variant).items() if k != "values"}
        fields["cases"] = {name: len(values) for name, values in variant.values.items()}
        meta.append(fields)
        for name, values in variant.values.items():
            for case, value in enumerate(values):
                arrays[f"{number}/{name}/{case}"] = value
    arrays["meta"] = np.array(json.dumps(meta))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
            np.savez(handle, **arrays)
        os.replace(handle.name, path)
    except OSError:
        pass  # an unwritable cache costs time, never a grade

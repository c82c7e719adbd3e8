"""A run's environment variables, and the matplotlib font list each run finds ready."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .data import MB, Isolation
from .mounts import INSIDE_SCRATCH, bwrap_options

MATPLOTLIB_DIR = ".matplotlib"  # MPLCONFIGDIR, in a run's home
FONT_LIST_SECONDS = 120  # for matplotlib to list the system's fonts, once per user


def child_env(home: str) -> dict[str, str]:
    """The child's whole environment: nothing of the grader's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/{MATPLOTLIB_DIR}",
        # One BLAS thread: numpy's import fits the memory and process limits.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # The child itself runs with -I -B; these are for Python processes it starts.
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


@functools.cache
def font_list(isolation: Isolation) -> Path | None:
    """matplotlib's font list for one-off runs, or None where matplotlib is missing or the
    list cannot be built. Built once per user, matplotlib and Python, on first use.

    A run starts with an empty home, where matplotlib's first import would list the
    system's fonts (fc-list) and write the list there: about a second, every run. The list
    is built instead by matplotlib's own font manager, with no student code, in a sandbox
    that sees the fonts a run sees; each run then finds it in its MPLCONFIGDIR, bound
    read-only (a plain process gets a copy of its own), so none can change the next one's.
    """
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return None
    key = hashlib.sha256(f"{sys.executable}\0{version}\0{isolation}".encode()).hexdigest()
    directory = _cache_home() / "calculus-graders" / f"matplotlib-{version}-{key[:16]}"
    built = sorted(directory.glob("fontlist-v*.json"))
    if built:
        return built[-1]
    try:
        return _build_font_list(isolation, directory)
    except (OSError, subprocess.SubprocessError):
        return None


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _build_font_list(isolation: Isolation, directory: Path) -> Path | None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as home:
        config = Path(home, MATPLOTLIB_DIR)
        config.mkdir()
        command, environment = [sys.executable], child_env(home)
        if isolation == Isolation.BUBBLEWRAP:
            bwrap = shutil.which("bwrap") or "bwrap"
            inside = f"{INSIDE_SCRATCH}/{MATPLOTLIB_DIR}"
            command = [bwrap, *bwrap_options(64 * MB), "--bind", str(config), inside, "--"]
            command.append(sys.executable)
            environment = child_env(INSIDE_SCRATCH)
        subprocess.run(
            [*command, "-I", "-c", "import matplotlib.font_manager"],
            env=environment,
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=FONT_LIST_SECONDS,
            check=True,
        )
        made = sorted(config.glob("fontlist-v*.json"))
        if not made:
            return None
        # Whole or not at all, for a grader building it at the same time.
        os.replace(made[-1], directory / made[-1].name)
        return directory / made[-1].name

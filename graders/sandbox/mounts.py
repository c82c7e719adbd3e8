"""bubblewrap's arguments: the namespaces, and what a sandbox sees of the file system."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

CHILD_SCRIPT = Path(__file__).resolve().with_name("child.py")
# Never visible inside, wherever they are installed: this package (the grader's code, and
# the course a wheel carries) and every course folder in use (see conceal()).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
INSIDE_SCRIPT = "/sandbox/child.py"
INSIDE_SCRATCH = "/scratch"
INSIDE_FONT_LIST = "/sandbox/fontlist.json"  # in a worker: its zygote copies it to its home
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts")
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # read-only in every sandbox's /proc
# In the worker's user namespace only: for namespaces and mounts, to drop capabilities, and
# to map uid 0 in each job's own user namespace (the kernel asks for CAP_SETFCAP).
ZYGOTE_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETFCAP")


def bwrap_options(scratch_bytes: int) -> list[str]:
    """bubblewrap's options for a run: namespaces, no capabilities, a file system of
    read-only system parts and a size-bounded tmpfs scratch."""
    scratch = ["--size", str(scratch_bytes), "--tmpfs", INSIDE_SCRATCH, "--chdir", INSIDE_SCRATCH]
    return _bwrap_sandbox(["--cap-drop", "ALL"], scratch)


def zygote_bwrap_options(fonts: Path | None) -> list[str]:
    """bubblewrap's options for a pool's worker: the same sandbox, but its zygote keeps
    the capabilities it needs to give each job namespaces and mounts of its own, held in
    a user namespace of the worker's own (--unshare-user: never the host's). Every job
    drops them all before it runs anything of the student's (child.Zygote)."""
    capabilities = ["--unshare-user", "--cap-drop", "ALL"]
    for capability in ZYGOTE_CAPABILITIES:
        capabilities += ["--cap-add", capability]
    # An empty, read-only mount point: each job mounts a scratch of its own on it.
    scratch = ["--dir", INSIDE_SCRATCH, "--chdir", "/"]
    if fonts is not None:
        scratch += ["--ro-bind", str(fonts), INSIDE_FONT_LIST]
    return _bwrap_sandbox(capabilities, scratch)


def _bwrap_sandbox(capabilities: list[str], scratch: list[str]) -> list[str]:
    options = ["--unshare-all", "--die-with-parent", "--new-session", *capabilities]
    python_dirs = _python_dirs()
    binds = ["/usr", *python_dirs]
    options += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            options += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            options += ["--ro-bind", path, path]
            binds.append(path)
    for name in ETC_FILES:
        options += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in python_dirs:
        options += ["--ro-bind", path, path]
    options += _grader_mask(binds)
    options += ["--ro-bind", str(CHILD_SCRIPT), INSIDE_SCRIPT]
    options += ["--proc", "/proc", "--dev", "/dev", *scratch]
    # uid 0 inside is uid 0 outside, and for most of /proc/sys being uid 0 is all it takes
    # to write: the host's sysctls would be the sandbox's to change. bubblewrap covers only
    # the parts it finds writable with its own capabilities; these are covered whatever.
    for name in PROC_COVERED:
        options += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
    # bubblewrap's root and /dev are writable tmpfs until remounted: only the scratch is.
    options += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return options


@functools.cache
def _python_dirs() -> tuple[str, ...]:
    """The Python installation, the venv, and where the importable packages live.

    Bound at their own paths: the venv's python finds its pyvenv.cfg and site-packages
    there. Outside /usr only, and none inside another.
    """
    import importlib.util

    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    candidates.add(os.path.dirname(os.path.realpath(sys.executable)))
    for package in ("numpy", "sympy", "mpmath", "matplotlib"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates.update(os.path.dirname(p) for p in spec.submodule_search_locations)
    kept: list[str] = []
    for path in sorted(os.path.abspath(c) for c in candidates if os.path.isdir(c)):
        if not any(_within(path, outer) for outer in ["/usr", *kept]):
            kept.append(path)
    return tuple(kept)


_concealed: set[str] = set()


def conceal(directory: Path) -> None:
    """Hide ``directory`` (a course folder: specs and reference solutions) from every
    sandbox started from now on, also where a directory the sandbox mounts contains it."""
    _concealed.add(os.path.realpath(directory))


@functools.cache
def _installed_copies() -> frozenset[str]:
    """This package and every installed copy of it: a checkout first on PYTHONPATH does
    not stop the wheel in site-packages, and the course it carries, from being mounted."""
    import importlib.metadata

    copies = {str(PACKAGE_DIR)}
    for distribution in importlib.metadata.distributions(name="calculus-graders"):
        copies.add(os.path.realpath(distribution.locate_file(PACKAGE_DIR.name)))
    return frozenset(copies)


def _grader_mask(binds: list[str]) -> list[str]:
    """Cover each hidden directory a bound one shows (at its path inside, through
    symlinks) with an empty read-only tmpfs. A bound directory inside a covered one (the
    venv inside a checkout) is bound again on top, and one hidden inside that is covered
    in turn (a wheel installed in that venv)."""
    hidden = [path for path in {*_installed_copies(), *_concealed} if os.path.isdir(path)]
    targets = set()
    for bind in binds:
        real = os.path.realpath(bind)
        targets.update(bind + path[len(real) :] for path in hidden if _within(path, real))
    options: list[str] = []
    covered: list[str] = []
    for path in sorted({*targets, *binds}):  # a directory sorts before what it contains
        around = [outer for outer in [*binds, *covered] if outer != path and _within(path, outer)]
        inside_covered = max(around, key=len, default=None) in covered
        if path in targets and not inside_covered:
            options += ["--tmpfs", path]
            covered.append(path)
        elif path not in targets and inside_covered:
            options += ["--ro-bind", path, path]
    for path in covered:
        options += ["--remount-ro", path]
    return options


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")

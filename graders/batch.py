"""``grade.py batch``: grade a class's hand-ins into a gradebook, reports and summaries.

The flow, for INPUT (a folder, a zip, a Canvas or Gradescope export; see graders.archives):

1. The hand-ins are listed (names and dates only); each is read, fingerprinted and loaded
   here when a grading slot is free, so memory holds the list and the few in flight,
   never every hand-in or every result.
2. ``--workers`` hand-ins are graded at once by threads of this process, each through a
   warm sandbox pool (student code runs only in the sandbox children; the comparisons,
   trusted, run in the threads), or, with ``--dask``, by the workers of a Dask cluster,
   each running the same ``engine.grade`` through the sandbox on its own machine (the
   cluster's threads then set the parallelism; the workers need this package and the
   course at the same path).
3. Each result is committed to ``DIR/gradebook.sqlite`` the moment it arrives, then the
   student's ``<key>.json`` and ``<key>.html`` are written. The class outputs
   (``gradebook.csv``, ``summary.html``/``.md``, ``canvas_feedback.zip``) are rendered
   at the end from the gradebook, handed over as a sequence that reads rows as used.

``--resume`` grades only what the gradebook lacks, or holds for another hand-in (its
fingerprint changed) or other specs (their hash changed), or could not grade through no
fault of the student; a hand-in that was being graded when the batch died has no row and
is graded again. Without ``--resume`` an existing batch in DIR is discarded (its gradebook
and the reports it lists) and the batch starts fresh, saying so: a rerun never mixes
grades from two different inputs unknowingly.

Exit status: 0 every student got full marks, 1 graded, 2 the batch could not be carried out.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import fcntl
import hashlib
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import engine, sandbox
from . import spec as specs_module
from .archives import Input, InputError
from .assignments import exercises_for
from .errors import EXIT_OK, EXIT_SHORT, AssignmentError, CommandError, SubmissionError, UsageError
from .gradebook import Gradebook, GradebookError
from .handins import HandIn, MemberError
from .limits import LimitOverrides, limits_for
from .lms import canvas
from .records import StudentRecord
from .reports import gradebook_csv
from .reports.student_page import write_student_files
from .reports.summary import write_summary
from .results import SubmissionResult
from .safe_text import one_line
from .source_analysis import packages_used
from .spec import Spec
from .submission import Submission, from_bytes

GRADEBOOK = "gradebook.sqlite"
LOCK = ".batch.lock"
REPORT_SUFFIXES = (".json", ".html")  # each student's files, by write_student_files
PROGRESS_SECONDS = 5.0  # plain progress lines at most this often (or every 10%)
QUEUE_FACTOR = 2  # hand-ins waiting per grading slot: enough to keep every slot busy
MAX_WARNINGS = 10  # archive warnings shown one by one; the rest are counted
DASK_CONNECT_SECONDS = 20
# The tutorial's libraries, which a whole notebook imports: imported once by the zygotes of
# the pool that grades the hand-ins using any of them, they cost such a hand-in nothing
# (a notebook grades twice as fast); the other hand-ins go to a pool without them, whose
# smaller zygotes fork faster (sandbox.Pool).
WARM_LIBRARIES = ("sympy", "matplotlib.pyplot", "ipywidgets")


@dataclass(frozen=True)
class BatchOptions:
    """What a batch is asked to do (``grade.py batch``'s options)."""

    input: Path  # a folder, a zip, a Canvas or Gradescope export
    out: Path  # the folder for the gradebook and the reports
    course: Path = specs_module.DEFAULT_COURSE
    exercises: Sequence[str] = ()  # only these; all when empty
    assignment: str | None = None  # only this assignment's, and notebooks graded against it
    workers: int = 1
    resume: bool = False
    canvas_csv: bool = False
    dask: str | None = None  # a Dask scheduler's address, instead of local workers
    overrides: LimitOverrides = field(default_factory=LimitOverrides)


# --- what one grading is -------------------------------------------------------------


@dataclass
class GradeTask:
    """Everything a grading needs, as plain picklable data (it may travel to Dask)."""

    key: str
    submission: Submission
    specs: list[Spec]
    overrides: LimitOverrides
    answered_only: bool


@dataclass
class Graded:
    """What came back: a result, or why there is none."""

    result: SubmissionResult | None
    problem: str | None
    duration: float
    retry: bool = False  # the grader failed, not the student: --resume grades it again


def grade_task(task: GradeTask, sandboxes: Sandboxes) -> Graded:
    """Grade one hand-in. Never raises: a failure is the student's row, not the batch's end."""
    began = time.monotonic()
    problem, retry, result = None, False, None
    try:
        run = None
        if task.submission.kind != "answer":  # typed answers are parsed here, not run
            limits = limits_for(task.specs, task.submission, task.overrides)
            run = sandboxes.run_for(limits, libraries_to_preload(task.submission, task.specs))
        result = engine.grade(
            task.submission,
            task.specs,
            run=run,
            answered_only=task.answered_only,
        )
    except UsageError as exc:
        problem = str(exc)
    except Exception as exc:  # the grader's own failure: reported on the row, retried later
        problem, retry = f"the grader failed: {type(exc).__name__}: {exc}", True
    return Graded(result, problem, time.monotonic() - began, retry)


def libraries_to_preload(submission: Submission, specs: Sequence[Spec]) -> tuple[str, ...]:
    """WARM_LIBRARIES if the hand-in uses any of them, else none."""
    lazy_modules = {alias: name for spec in specs for alias, name in spec.setup.modules.items()}
    used = set().union(*(packages_used(cell.source, lazy_modules) for cell in submission.cells))
    return WARM_LIBRARIES if used & {name.partition(".")[0] for name in WARM_LIBRARIES} else ()


# --- sandboxes -------------------------------------------------------------------------


class Sandboxes:
    """Warm sandbox pools, one per set of preloaded libraries, each with a child for every
    grading thread; each job brings its own limits (a notebook runs longer than a .py).
    Created when first needed; thread-safe."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pools: dict[tuple[str, ...], sandbox.Pool] = {}
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()

    def run_for(self, limits: sandbox.RunLimits, preload: tuple[str, ...]) -> _PooledRun:
        with self._lock:
            pool = self._pools.get(preload)
            if pool is None:
                pool = sandbox.Pool(self.workers, limits, preload=preload)
                self._pools[preload] = self._stack.enter_context(pool)
        return _PooledRun(pool, limits)

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._pools.clear()


class _PooledRun:
    """A Run-like handle that takes a warm child only when the job is ready: a grading
    that fails before its sandbox run (say, a broken reference) holds none."""

    def __init__(self, pool: sandbox.Pool, limits: sandbox.RunLimits) -> None:
        self._pool = pool
        self._limits = limits

    def submit(self, job: sandbox.Job) -> sandbox.Outcome:
        return self._pool.start(self._limits).submit(job)


# --- executors: threads here, or a Dask cluster ------------------------------------


class LocalExecutor:
    """``workers`` threads of this process, sharing warm sandbox pools."""

    def __init__(self, workers: int) -> None:
        self.capacity = workers
        self._sandboxes = Sandboxes(workers)
        self._threads = cf.ThreadPoolExecutor(workers, thread_name_prefix="grade")

    def submit(self, task: GradeTask) -> cf.Future[Graded]:
        return self._threads.submit(grade_task, task, self._sandboxes)

    def close(self) -> None:
        # Not waiting: after an interrupt, closing the pools ends the runs still going.
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._sandboxes.close()


class DaskExecutor:
    """The workers of an existing Dask cluster: each runs ``grade_task`` in its own process
    through its own sandbox pools; results come back here, to the one gradebook."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise CommandError(
                "--dask needs the distributed package: pip install 'calculus-graders[cluster]'"
            ) from None
        try:
            self._client = Client(address, timeout=f"{DASK_CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CommandError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.capacity = max(1, sum(self._client.nthreads().values()))

    def submit(self, task: GradeTask) -> cf.Future[Graded]:
        future: cf.Future[Graded] = cf.Future()
        remote = self._client.submit(grade_on_dask_worker, task, pure=False, key=_dask_key(task))
        remote.add_done_callback(lambda done: _settle(done, future))
        return future

    def close(self) -> None:
        self._client.close()


def _dask_key(task: GradeTask) -> str:
    return f"grade-{task.key}-{time.monotonic_ns()}"


def _settle(remote: Any, future: cf.Future[Graded]) -> None:
    """Hand a Dask result over; a lost worker or task becomes a retried problem row."""
    try:
        future.set_result(remote.result())
    except Exception as exc:
        problem = f"the Dask cluster failed to grade it: {type(exc).__name__}: {exc}"
        future.set_result(Graded(None, problem, 0.0, retry=True))


_worker_sandboxes: Sandboxes | None = None
_worker_lock = threading.Lock()


def grade_on_dask_worker(task: GradeTask) -> Graded:
    """The Dask task: grade in this worker's process, through pools sized to its threads."""
    global _worker_sandboxes
    with _worker_lock:
        if _worker_sandboxes is None:
            from distributed import get_worker

            _worker_sandboxes = Sandboxes(get_worker().state.nthreads)
    return grade_task(task, _worker_sandboxes)


# --- progress --------------------------------------------------------------------------


class Progress:
    """A tqdm bar (rate, ETA) on a terminal; elsewhere a plain line every few seconds or
    every tenth of the class, whichever comes first."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream = stream or sys.stderr
        self.done = 0
        self.graded = 0
        self.began = time.monotonic()
        self._shown_at = self.began
        self._shown_tenth = 0
        self._bar = None
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=stream, unit="student", dynamic_ncols=True)

    def advance(self, *, graded: bool) -> None:
        self.done += 1
        self.graded += graded
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        tenth = self.done * 10 // max(self.total, 1)
        if now - self._shown_at >= PROGRESS_SECONDS or tenth > self._shown_tenth:
            self._shown_at, self._shown_tenth = now, tenth
            print(self._line(now), file=self.stream, flush=True)

    def _line(self, now: float) -> str:
        elapsed = max(now - self.began, 1e-9)
        rate = self.graded / elapsed
        left = self.total - self.done
        eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
        percent = 100 * self.done // max(self.total, 1)
        return f"{self.done}/{self.total} ({percent}%), {rate:.1f} graded/s{eta}"

    def close(self) -> float:
        """Stop showing progress; the elapsed seconds."""
        if self._bar is not None:
            self._bar.close()
        return time.monotonic() - self.began


# --- the batch -----------------------------------------------------------------------


@dataclass
class Prepared:
    """A hand-in read and fingerprinted: a task to grade, or already its record (problem)."""

    handin: HandIn
    fingerprint: str
    task: GradeTask | None = None
    problem: str | None = None


class Batch:
    """One run of ``grade.py batch``: the input, the gradebook, the grading, the outputs."""

    def __init__(self, options: BatchOptions, specs: list[Spec]):
        self.options = options
        self.out = options.out
        self.specs = specs
        self.spec_hash = spec_hash(specs, options.course, options.overrides)
        self.report_failures: list[str] = []  # the first few, for the closing warnings
        self.report_failure_count = 0
        self.seen: set[str] = set()

    def run(
        self,
        source: Input,
        gradebook: Gradebook,
        executor: LocalExecutor | DaskExecutor,
    ) -> int:
        progress = Progress(len(source.handins))
        pending: dict[cf.Future[Graded], Prepared] = {}
        try:
            for handin in source.handins:
                self.seen.add(handin.key)
                prepared, data = self._read(handin, source)
                if self.options.resume and gradebook.is_current(
                    handin.key, prepared.fingerprint, self.spec_hash
                ):
                    self._ensure_files(gradebook, handin.key)
                    progress.advance(graded=False)
                    continue
                if data is not None:
                    self._make_task(prepared, data)
                if prepared.task is None:
                    self._finish(gradebook, prepared, Graded(None, prepared.problem, 0.0))
                    progress.advance(graded=True)
                    continue
                gradebook.started(handin.key)
                pending[executor.submit(prepared.task)] = prepared
                while len(pending) >= executor.capacity * QUEUE_FACTOR:
                    self._collect(gradebook, pending, progress)
            while pending:
                self._collect(gradebook, pending, progress)
        finally:
            elapsed = progress.close()
        return self._conclude(source, gradebook, progress, elapsed)

    def _collect(
        self,
        gradebook: Gradebook,
        pending: dict[cf.Future[Graded], Prepared],
        progress: Progress,
    ) -> None:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in done:
            self._finish(gradebook, pending.pop(future), future.result())
            progress.advance(graded=True)

    def _read(self, handin: HandIn, source: Input) -> tuple[Prepared, bytes | None]:
        """Read the chosen file and fingerprint the hand-in: all --resume needs to know
        whether it was graded already (loading a notebook costs more than reading it)."""
        described = json.dumps(
            [handin.student, handin.files, handin.filename, handin.late, handin.lms, handin.notes]
        ).encode()
        digest = hashlib.sha256(described)
        if handin.chosen is None:
            return Prepared(handin, digest.hexdigest(), problem=handin.problem), None
        try:
            data = source.read(handin.chosen)
        except MemberError as exc:
            return Prepared(handin, digest.hexdigest(), problem=str(exc)), None
        digest.update(data)
        return Prepared(handin, digest.hexdigest()), data

    def _make_task(self, prepared: Prepared, data: bytes) -> None:
        """Load the hand-in for grading: its task, or the problem that stops it."""
        handin = prepared.handin
        try:
            submission = from_bytes(Path(handin.filename), data)
        except SubmissionError as exc:
            prepared.problem = str(exc)
            return
        except Exception as exc:  # a way to be unreadable not foreseen: still only this row
            problem = str(exc).strip().split("\n", 1)[0][:160] or "no details"
            prepared.problem = (
                f"{handin.filename}: cannot be read ({type(exc).__name__}: {problem})"
            )
            return
        specs = self.specs
        if submission.kind == "notebook" and not self.options.exercises:
            try:
                specs = exercises_for(submission, specs, self.options.assignment)
            except AssignmentError as exc:
                prepared.problem = str(exc)
                return
        if submission.kind == "answer":
            specs = [spec for spec in specs if spec.accepts_typed_answers]
            if not specs:
                chosen = ", ".join(spec.id for spec in self.specs)
                prepared.problem = (
                    f"{handin.filename} is a typed answer (.txt), which only an expression "
                    f"exercise takes; the batch grades {chosen}"
                )
                return
        answered_only = submission.kind == "code" and not self.options.exercises
        overrides = self.options.overrides
        prepared.task = GradeTask(handin.key, submission, specs, overrides, answered_only)

    def _finish(self, gradebook: Gradebook, prepared: Prepared, graded: Graded) -> None:
        """Commit the row first (the grade is safe), then write the student's files."""
        handin = prepared.handin
        record = StudentRecord(
            key=handin.key,
            student=handin.student,
            files=handin.files,
            result=graded.result,
            problem=graded.problem,
            notes=handin.notes,
            late=handin.late,
            duration=graded.duration,
            lms=handin.lms,
        )
        gradebook.save(
            record, fingerprint=prepared.fingerprint, spec_hash=self.spec_hash, retry=graded.retry
        )
        # As stored, not as graded: the gradebook's text is clean of what no file can hold,
        # and a resumed batch writes the same files.
        self._write_files(gradebook.record(handin.key))

    def _write_files(self, record: StudentRecord) -> None:
        # A report that cannot be written must not stop the batch: the grade is saved, and
        # --resume writes missing reports from the gradebook.
        try:
            write_student_files(record, self.out)
        except Exception as exc:
            self.report_failure_count += 1
            if len(self.report_failures) < MAX_WARNINGS:
                self.report_failures.append(f"{record.key}: {type(exc).__name__}: {exc}")

    def _ensure_files(self, gradebook: Gradebook, key: str) -> None:
        if not all((self.out / f"{key}{suffix}").is_file() for suffix in REPORT_SUFFIXES):
            self._write_files(gradebook.record(key))

    def _conclude(
        self, source: Input, gradebook: Gradebook, progress: Progress, elapsed: float
    ) -> int:
        failed, first_failure = gradebook.grader_failures()
        if failed and failed == len(self.seen):
            raise CommandError(f"the grader failed on every hand-in; the first: {first_failure}")
        stale = [key for key in gradebook.student_keys() if key not in self.seen]
        if stale:
            gradebook.remove(stale)
            _remove_reports(self.out, stale)
            _say(f"{len(stale)} students of the earlier batch are not in {source.path}: dropped")
        records = gradebook.records()
        write_csv = (
            canvas.write_gradebook_csv
            if self.options.canvas_csv
            else gradebook_csv.write_gradebook_csv
        )
        write_csv(records, self.specs, self.out / "gradebook.csv")
        # With the evidence curves: the summary draws the wrong answers a class shares.
        write_summary(gradebook.records(evidence=True), self.specs, self.out, elapsed=elapsed)
        if source.layout == "canvas":
            canvas.write_feedback_zip(records, self.out / "canvas_feedback.zip")
        gradebook.finish_run()
        for failure in self.report_failures:
            _say(f"warning: report not written for {failure}")
        if self.report_failure_count > len(self.report_failures):
            _say(f"warning: {self.report_failure_count} reports in all were not written")
        _say(closing_line(gradebook, progress, elapsed))
        return EXIT_OK if gradebook.all_full_marks() else EXIT_SHORT


def closing_line(gradebook: Gradebook, progress: Progress, elapsed: float) -> str:
    """``30 students: 20 passed, 6 failed, 2 error, 2 timeout; graded 30 in 12.3 s``."""
    counts = gradebook.status_counts()
    total = sum(counts.values())
    by_status = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    kept = progress.done - progress.graded
    already = f" ({kept} already in the gradebook)" if kept else ""
    return f"{total} students: {by_status}; graded {progress.graded} in {elapsed:.1f} s{already}"


def spec_hash(specs: Sequence[Spec], course: Path, overrides: LimitOverrides) -> str:
    """What the grades depend on besides the hand-in: specs, references, limits."""
    digest = hashlib.sha256(repr(overrides).encode())
    for spec in specs:
        digest.update(spec.id.encode())
        for path in (course / "exercises" / f"{spec.id}.yaml", spec.reference_path):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _say(message: str) -> None:
    print(one_line(message), file=sys.stderr, flush=True)


# --- the command -----------------------------------------------------------------------


def run_batch(options: BatchOptions) -> int:
    """``grade.py batch``; exit status 0, 1, or 2 (via CommandError, one line on stderr)."""
    if options.workers < 1:
        raise CommandError("--workers must be at least 1")
    if options.out.resolve() == options.input.resolve():
        raise CommandError("--out must be another folder than the input")
    specs = specs_module.load_specs(options.course, options.exercises)
    if options.assignment is not None:
        specs = specs_module.of_assignment(specs, options.assignment)
    with _output_folder(options.out), _opened(options) as source:
        if not source.handins:
            raise CommandError(f"{options.input}: no hand-ins found (no files or folders in it)")
        shown = source.warnings[:MAX_WARNINGS]
        more = len(source.warnings) - len(shown)
        for warning in [*shown, *([f"... and {more} more refused entries"] if more else [])]:
            _say(f"warning: {warning}")
        with _gradebook(options) as gradebook, _executor(options) as executor:
            return Batch(options, specs).run(source, gradebook, executor)


@contextlib.contextmanager
def _output_folder(out: Path) -> Iterator[None]:
    """Create DIR and hold its lock: two batches writing one gradebook would clash."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = (out / LOCK).open("w")
    except OSError as exc:
        raise CommandError(f"cannot write to {out}: {exc.strerror or exc}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(f"another batch is writing to {out}") from None
        yield


@contextlib.contextmanager
def _opened(options: BatchOptions) -> Iterator[Input]:
    try:
        with Input(options.input, exclude=options.out) as source:
            yield source
    except InputError as exc:
        raise CommandError(str(exc)) from None


@contextlib.contextmanager
def _gradebook(options: BatchOptions) -> Iterator[Gradebook]:
    path = options.out / GRADEBOOK
    try:
        if path.exists() and not options.resume:
            _discard_batch(options.out, path)
        gradebook = Gradebook(path)
    except sqlite3.DatabaseError as exc:
        raise CommandError(f"{path}: not a usable gradebook ({exc}); move it away") from None
    except GradebookError as exc:
        raise CommandError(str(exc)) from None
    try:
        gradebook.begin_run(str(options.input), resumed=options.resume)
        yield gradebook
    finally:
        gradebook.close()


def _discard_batch(out: Path, path: Path) -> None:
    """Start fresh: remove the earlier gradebook and the reports it lists (nothing else)."""
    keys = Gradebook.keys_in(path)
    _remove_reports(out, keys)
    Gradebook.discard(path)
    _say(f"{out} held an earlier batch ({len(keys)} students): starting fresh (--resume continues)")


def _remove_reports(out: Path, keys: Sequence[str]) -> None:
    for key in keys:
        for suffix in REPORT_SUFFIXES:
            (out / f"{key}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _executor(options: BatchOptions) -> Iterator[LocalExecutor | DaskExecutor]:
    executor = DaskExecutor(options.dask) if options.dask else LocalExecutor(options.workers)
    try:
        yield executor
    finally:
        executor.close()

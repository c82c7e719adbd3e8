"""Runs one submission inside the sandbox and sends plain data back to the grader.

Started by the ``graders.sandbox`` package as ``python -I -B child.py CHANNEL_FD`` (or as the
zygote of a pool's worker, which forks such a child per job: see the end of this file).
This file is the only part of the grader the sandbox can see (bound read-only), so it
imports the standard library and numpy only. It

1. imports numpy at once, so that numpy's start-up overlaps the grader's own work;
2. reads the job (JSON) from stdin, then points stdin at /dev/null;
3. runs the prelude, then every cell in one namespace, each under a soft time limit
   (an erroring cell does not stop the next one, as in a notebook);
4. after each cell that binds an exercise's names, snapshots them (and makes the
   exercise's calls) and sends the snapshot at once, so a later crash cannot lose it.

Results travel over the pipe CHANNEL_FD as frames: 4-byte big-endian length, then JSON.
stdout and stderr are the student's; ``print`` cannot reach the channel.

The runner is not a security boundary: student code runs in this very process and could
rewrite any of it. The boundary is the process (inside bubblewrap); the grader's decoder
accepts nothing but plain data. (The zygote's confinement of a pooled job is part of the
boundary: it is done before any student code runs, and cannot be undone after.) The
runner only has to be right for honest code and to fail closed for hostile code: student
objects are read through the built-in types' own slots (``float.hex(x)``,
``list.__getitem__(x, i)``), so a rigged ``__eq__``, ``__float__`` or ``__array__`` never
runs and the object crosses as an opaque marker.
"""

import base64
import contextlib
import errno
import importlib
import json
import opcode
import os
import resource
import signal
import struct
import sys
import types

import numpy as np  # before the job is read: this import overlaps the grader's start-up

MAX_DEPTH = 32  # nesting of lists and tuples
# A message's values, as the grader counts a frame before parsing it (its limits are 16 MiB
# and 256 Ki values): a value that does not fit crosses as an opaque marker instead.
MESSAGE_BYTES = 12 * 2**20
MESSAGE_VALUES = 200_000
MAX_ITEMS = MESSAGE_VALUES  # list and tuple elements per message
MAX_ARRAY_ELEMENTS = 10**7
MAX_STR_CHARS = 100_000
TEXT_CAP = 2_000  # exception messages, code lines, summaries
NAME_CAP = 200
MAX_INT_BITS = 4_096
TEXT_SECONDS = 1.0  # str() of a student's exception
# The exit status of a runner that itself found no memory left (protocol.MEMORY_EXIT).
MEMORY_EXIT = 86
RAISE_VARARGS = opcode.opmap["RAISE_VARARGS"]

# The dtypes an array crosses as (little-endian; smaller ints and floats are widened).
NUMPY_DTYPES = {
    "bool": "|b1",
    "int64": "<i8",
    "uint64": "<u8",
    "float64": "<f8",
    "complex128": "<c16",
}
NUMPY_SCALAR_TYPES = tuple(set(np.sctypeDict.values()))

# The built-in descriptors, so that a metaclass cannot answer for a class.
_qualname_of = type.__dict__["__qualname__"].__get__
_module_of = type.__dict__["__module__"].__get__
_module_dict = types.ModuleType.__dict__["__dict__"].__get__
_real = complex.real.__get__
_imag = complex.imag.__get__
_traceback_of = BaseException.__traceback__.__get__


class SoftTimeout(BaseException):
    """Raised in student code that overruns its soft time limit.

    A BaseException, so that ``except Exception`` in student code does not swallow it.
    """


class SoftLimit:
    """Runs a function with SIGALRM set to interrupt it after a number of seconds."""

    def __init__(self) -> None:
        self.armed = False

    def _on_alarm(self, signum, frame):
        # Only raise inside a guarded call: an alarm landing in the runner is ignored.
        if self.armed:
            raise SoftTimeout("soft time limit exceeded")

    def run(self, function, seconds):
        """Return (result, None), or (None, exception) if it raised or ran out of time."""
        try:
            # Installed every time: an earlier cell may have replaced the handler.
            signal.signal(signal.SIGALRM, self._on_alarm)
            self.armed = True
            # The interval re-fires the alarm if student code catches it and goes on.
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
            try:
                return function(), None
            finally:
                self.armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as exc:
            return None, exc


def type_name(tp) -> str:
    """The class's real name (``numpy.ndarray``, ``function``, ``X``), capped."""
    qualname = _qualname_of(tp)
    module = _module_of(tp)
    if type(module) is not str or module in ("builtins", "__main__"):
        return qualname[:NAME_CAP]
    return f"{module}.{qualname}"[:NAME_CAP]


def is_one_of(tp, candidates) -> bool:
    """Membership by identity: ``tp in a_set`` would call a metaclass's ``__hash__``."""
    return any(tp is candidate for candidate in candidates)


def summary(value, tp) -> str:
    """A short description of an object that cannot cross as data."""
    if tp is types.FunctionType:
        code = value.__code__
        arguments = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        return f"{value.__name__}({', '.join(arguments)})"[:TEXT_CAP]
    if issubclass(tp, type):
        return f"class {type_name(value)}"
    if issubclass(tp, types.ModuleType):
        name = _module_dict(value).get("__name__")
        return f"module {name}"[:TEXT_CAP] if type(name) is str else "module"
    return ""


def wire_dtype(dtype) -> str | None:
    """The name an array of this dtype crosses as, or None if it cannot cross as data."""
    if dtype.fields is not None:
        return None
    if dtype.kind == "u":
        return "uint64" if dtype.itemsize == 8 else "int64"
    return {"b": "bool", "i": "int64", "f": "float64", "c": "complex128"}.get(dtype.kind)


def deepest_student_frame(exc: BaseException, filenames) -> tuple[str | None, int | None]:
    """(filename, line) of the deepest traceback frame in one of the student's files."""
    found = None, None
    traceback = _traceback_of(exc)
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if filename in filenames:
            found = filename, traceback.tb_lineno
        traceback = traceback.tb_next
    return found


def raised_by_statement(exc: BaseException) -> bool:
    """Whether a ``raise`` statement raised it, rather than an allocation that was refused
    (a MemoryError the student raises is their error, not the memory limit)."""
    traceback = _traceback_of(exc)
    if traceback is None:
        return False
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    code = traceback.tb_frame.f_code.co_code
    return 0 <= traceback.tb_lasti < len(code) and code[traceback.tb_lasti] == RAISE_VARARGS


def opaque(tp, summary_text: str = "") -> dict:
    return {"t": "opaque", "type": type_name(tp), "summary": summary_text[:TEXT_CAP]}


class Encoder:
    """Turns the values of one message into plain JSON data, within size bounds."""

    def __init__(self, soft_limit: SoftLimit, seconds: float) -> None:
        self.soft_limit = soft_limit
        self.seconds = seconds
        # While encoding: bounds that stop early what cannot fit (bytes of text and array
        # data, sequence items). fit() has the last word.
        self.budget = MESSAGE_BYTES
        self.items = MAX_ITEMS
        self.bytes_left = MESSAGE_BYTES
        self.values_left = MESSAGE_VALUES

    def encode_top(self, value) -> dict:
        """Encode one snapshot value; a failure makes it opaque rather than losing the rest."""
        try:
            node = self.encode(value, 0)
        except Exception as exc:
            node = opaque(type(value), f"could not be read: {type_name(type(exc))}")
        return self.fit(node, type(value))

    def fit(self, node: dict, tp) -> dict:
        """The node, if the message has room for it as the grader counts (bytes, and the
        "[{,:" that precede JSON values); else an opaque marker in its place."""
        text = dumps(node)
        values = sum(text.count(mark) for mark in "[{,:")
        if len(text) > self.bytes_left or values > self.values_left:
            return opaque(tp, "too large to send")
        self.bytes_left -= len(text)
        self.values_left -= values
        return node

    def encode(self, value, depth: int) -> dict:
        tp = type(value)
        if value is None:
            return {"t": "none"}
        if value is Ellipsis:
            return {"t": "placeholder"}
        if tp is bool or tp is np.bool_:
            return {"t": "bool", "v": bool(value)}
        if issubclass(tp, int):
            return self.integer(int.__index__(value))
        if issubclass(tp, float):
            return {"t": "float", "v": float.hex(value)}
        if issubclass(tp, complex):
            return {"t": "complex", "re": float.hex(_real(value)), "im": float.hex(_imag(value))}
        if issubclass(tp, str):
            return self.text("str", str.__str__(value), tp)
        if issubclass(tp, np.generic) and is_one_of(tp, NUMPY_SCALAR_TYPES):
            return self.numpy_scalar(value, tp)
        if issubclass(tp, (list, tuple)):
            return self.sequence(value, list if issubclass(tp, list) else tuple, depth)
        if issubclass(tp, np.ndarray):
            return self.array(np.ndarray.view(value, np.ndarray))
        module = _module_of(tp)
        if type(module) is str and module.split(".")[0] == "sympy":
            return self.symbolic(value, tp)
        return opaque(tp, summary(value, tp))

    def integer(self, number: int) -> dict:
        # Hex, not decimal: Python caps decimal conversion of huge ints, not hex.
        if number.bit_length() > MAX_INT_BITS:
            return opaque(int, f"an integer of {number.bit_length()} bits")
        return {"t": "int", "v": format(number, "x")}

    def text(self, kind: str, text: str, tp) -> dict:
        if len(text) > MAX_STR_CHARS or len(text) > self.budget:
            return opaque(tp, f"{len(text)} characters, too long to compare")
        self.budget -= len(text)
        return {"t": kind, "v": text}

    def numpy_scalar(self, value, tp) -> dict:
        # Exact numpy scalar types only: their conversions are numpy's C code.
        kind = np.dtype(tp).kind
        if kind in "iu":
            return self.integer(int(value))
        if kind == "f":
            return {"t": "float", "v": float.hex(float(value))}
        if kind == "c":
            number = complex(value)
            return {"t": "complex", "re": float.hex(number.real), "im": float.hex(number.imag)}
        return opaque(tp)

    def sequence(self, value, base, depth: int) -> dict:
        length = base.__len__(value)
        name = base.__name__
        if depth >= MAX_DEPTH:
            return opaque(base, "nested too deeply")
        if length > self.items:
            return opaque(base, f"{length} items, too many to compare")
        self.items -= length
        items = [self.encode(base.__getitem__(value, i), depth + 1) for i in range(length)]
        return {"t": name, "items": items}

    def array(self, array) -> dict:
        wire = wire_dtype(array.dtype)
        shape = [int(n) for n in array.shape]
        if wire is None:
            return opaque(np.ndarray, f"dtype {array.dtype.str}, shape {tuple(shape)}")
        nbytes = array.size * np.dtype(NUMPY_DTYPES[wire]).itemsize
        if array.size > MAX_ARRAY_ELEMENTS or 4 * nbytes // 3 > self.budget:  # base64
            return opaque(np.ndarray, f"shape {tuple(shape)}, too large to compare")
        self.budget -= nbytes
        data = np.ndarray.tobytes(np.ndarray.astype(array, NUMPY_DTYPES[wire]))
        return {
            "t": "array",
            "dtype": wire,
            "shape": shape,
            "data": base64.b64encode(data).decode(),
        }

    def symbolic(self, value, tp) -> dict:
        # str() of a sympy object is sympy's printer, but the class may be the student's:
        # bounded in time and length, and only an exact str is taken.
        text, exc = self.soft_limit.run(lambda: str(value), self.seconds)
        if exc is not None or type(text) is not str:
            return opaque(tp, "its text could not be read")
        return self.text("symbolic", text, tp)


def decode_argument(node):
    """Decode a value the grader sent (trusted, so no checks beyond the format)."""
    kind = node["t"]
    if kind == "none":
        return None
    if kind == "bool":
        return node["v"]
    if kind == "int":
        return int(node["v"], 16)
    if kind == "float":
        return float.fromhex(node["v"])
    if kind == "complex":
        return complex(float.fromhex(node["re"]), float.fromhex(node["im"]))
    if kind == "str":
        return node["v"]
    if kind in ("list", "tuple"):
        items = [decode_argument(item) for item in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "array":
        data = base64.b64decode(node["data"])
        array = np.frombuffer(data, dtype=NUMPY_DTYPES[node["dtype"]]).reshape(node["shape"])
        return array.copy()  # writable, and the student's function may modify it
    raise ValueError(f"cannot decode {kind!r}")


class LazyModule(types.ModuleType):
    """Stands for a module until first used, then imports it and takes its place."""

    def __init__(self, alias: str, module_name: str, namespace: dict) -> None:
        super().__init__(module_name)
        self._lazy_binding = (alias, namespace)

    def __getattr__(self, attribute: str):
        module = importlib.import_module(self.__name__)
        alias, namespace = self._lazy_binding
        if namespace.get(alias) is self:
            namespace[alias] = module
        return getattr(module, attribute)


def import_or_forget(name: str) -> None:
    """Import a module, or leave sys.modules as it was: a package that fails halfway
    leaves the submodules it did import behind, and a later import of the package then
    builds a fresh package object that lacks them as attributes (matplotlib, imported in a
    read-only home, then fails in every job with "no attribute '_docstring'")."""
    before = set(sys.modules)
    try:
        importlib.import_module(name)
    except Exception:  # whoever imports it next gets the error
        for added in set(sys.modules) - before:
            del sys.modules[added]


def dumps(message: dict) -> str:
    return json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


class Channel:
    """Length-prefixed JSON frames on the result pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: dict) -> None:
        body = dumps(message)
        frame = memoryview(struct.pack(">I", len(body)) + body.encode("ascii"))
        while frame:
            frame = frame[os.write(self.fd, frame) :]


class Runner:
    """Runs the cells of one job and reports each cell and snapshot as it happens."""

    def __init__(self, job: dict, channel: Channel) -> None:
        self.job = job
        self.channel = channel
        self.seconds = float(job["cell_seconds"])
        self.soft_limit = SoftLimit()
        self.sources = {cell["filename"]: cell["source"] for cell in job["cells"]}
        self.namespace = {"__name__": "__main__", "__builtins__": __builtins__, "np": np}
        for alias, module_name in job["lazy_modules"].items():
            self.namespace[alias] = LazyModule(alias, module_name, self.namespace)

    def run(self) -> None:
        # The prelude is the grader's own code: if it fails, the run is broken, not the
        # submission; its traceback goes to stderr and the grader sees a crash.
        exec(compile(self.job["prelude"], "<prelude>", "exec", dont_inherit=True), self.namespace)
        for position, cell in enumerate(self.job["cells"]):
            self.channel.send({"type": "start", "cell": position})
            report = self.run_cell(cell)
            flush_output()
            self.channel.send({"type": "cell", "cell": position, **report})
            for extraction in cell["snapshots"]:
                self.channel.send(self.snapshot(position, extraction))
        flush_output()
        self.channel.send({"type": "done"})

    def run_cell(self, cell: dict) -> dict:
        filename, source = cell["filename"], cell["source"]
        code, exc = self.soft_limit.run(
            lambda: compile(source, filename, "exec", dont_inherit=True), self.seconds
        )
        if code is None and issubclass(type(exc), (MemoryError, RecursionError)):
            # Nesting too deep for Python's parser (100,000 minus signs, say): code that
            # cannot be parsed, as the grader's own static analysis sees it too.
            exc = SyntaxError("the code is nested too deeply for Python to parse it")
        if exc is None:
            _, exc = self.soft_limit.run(lambda: exec(code, self.namespace), self.seconds)
        if exc is None:
            return {"status": "ok", "exception": None, "message": None, "line": None, "code": None}
        report = self.describe(exc)
        if code is None and issubclass(type(exc), SyntaxError):
            line = exc.lineno
            report["message"] = str(exc.msg)[:TEXT_CAP]
        else:
            _, line = deepest_student_frame(exc, {filename})
        return {**report, "line": line, "code": self.code_at(filename, line)}

    def describe(self, exc: BaseException) -> dict:
        """Status, exception name and message of what a cell or call raised."""
        if issubclass(type(exc), SoftTimeout):
            status, name = "timeout", "TimeoutError"
            message = f"took longer than the time limit of {self.seconds:g} s"
        elif issubclass(type(exc), MemoryError) and not raised_by_statement(exc):
            status, name = "memory", "MemoryError"
            message = "ran out of memory"
        else:
            status, name, message = "error", _qualname_of(type(exc))[:NAME_CAP], self.message(exc)
        return {"status": status, "exception": name, "message": message}

    def message(self, exc: BaseException) -> str:
        # str() may run the student's __str__ (of the exception or of its arguments).
        text, failure = self.soft_limit.run(lambda: str(exc), min(TEXT_SECONDS, self.seconds))
        if failure is not None or type(text) is not str:
            return "(the message could not be read)"
        return text[:TEXT_CAP]

    def code_at(self, filename: str | None, line: int | None) -> str | None:
        lines = self.sources.get(filename, "").splitlines() if filename else []
        if line is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1].strip()[:TEXT_CAP]

    def snapshot(self, position: int, extraction_index: int) -> dict:
        extraction = self.job["extractions"][extraction_index]
        encoder = Encoder(self.soft_limit, self.seconds)
        values = {
            name: encoder.encode_top(self.namespace[name])
            for name in extraction["names"]
            if name in self.namespace
        }
        calls = [self.call(call, encoder) for call in extraction["calls"]]
        return {
            "type": "snapshot",
            "cell": position,
            "extraction": extraction_index,
            "values": values,
            "calls": calls,
        }

    def call(self, call: dict, encoder: Encoder) -> dict:
        name = call["function"]
        if name not in self.namespace:
            return failure("NameError", f"name '{name}' is not defined", None, None)
        function = self.namespace[name]
        kwargs = {key: decode_argument(value) for key, value in call["kwargs"].items()}
        result, exc = self.soft_limit.run(lambda: function(**kwargs), self.seconds)
        if exc is None:
            return encoder.encode_top(result)
        filename, line = deepest_student_frame(exc, self.sources)
        described = self.describe(exc)
        code = self.code_at(filename, line)
        return encoder.fit(
            failure(described["exception"], described["message"], line, code), type(exc)
        )


def failure(exception: str, message: str, line: int | None, code: str | None) -> dict:
    return {
        "t": "call_failure",
        "exception": exception,
        "message": message,
        "line": line,
        "code": code,
    }


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        # The student may have replaced or closed the stream.
        with contextlib.suppress(BaseException):
            stream.flush()


def read_job() -> dict:
    """The whole of stdin, then stdin becomes /dev/null (``input()`` sees end of file)."""
    job = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return job


# --- warm workers: the zygote of sandbox.Pool -------------------------------------------
#
# Started as ``python -I -B child.py --zygote CONTROL_FD CONFIG``, the zygote
# imports numpy, this runner and the libraries named in CONFIG once, then forks a fresh
# child per job. It never runs student code: it reads nothing but the grader's control
# socket, so every job starts from the same pristine, pre-imported state, and nothing a
# job does (files, processes, environment, module attributes) exists in the process the
# next job is forked from.
#
# Under bubblewrap the zygote keeps CAP_SYS_ADMIN, CAP_SETPCAP and CAP_SETFCAP, but only in
# the user namespace bubblewrap made for the worker (it refuses to run in the host's). A
# job's first process uses them to give the job its own pid, mount, ipc and user
# namespaces, a fresh tmpfs scratch and a fresh /proc, then drops every capability for
# good, before any student code runs. It stays behind as the job's pid 1, as bubblewrap's
# init does. A job cannot see, signal or trace the zygote, and holds none of its
# descriptors; its results travel over a pipe of its own, as a one-off child's do.

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522
HOST_UID_MAP = ["0", "0", "4294967295"]  # the initial user namespace's identity map
CONTROL_BYTES = 64 * 1024
JOB_FDS = 4  # stdin, stdout, stderr, channel


class Kernel:
    """The Linux system calls that Python 3.11 does not wrap, called through libc."""

    def __init__(self) -> None:
        import ctypes  # only in the zygote: not on the one-off child's start-up path

        self.ctypes = ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        text, number, pointer = ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p
        self._unshare = self._declare(libc.unshare, ctypes.c_int)
        self._setns = self._declare(libc.setns, ctypes.c_int, ctypes.c_int)
        self._mount = self._declare(libc.mount, text, text, text, number, text)
        self._prctl = self._declare(libc.prctl, ctypes.c_int, number, number, number, number)
        self._capset = self._declare(libc.capset, pointer, pointer)

    @staticmethod
    def _declare(function, *argtypes):
        function.argtypes = argtypes  # full-width arguments: prctl reads unsigned longs
        return function

    def _check(self, result: int) -> None:
        if result != 0:
            number = self.ctypes.get_errno()
            raise OSError(number, os.strerror(number))

    def unshare(self, flags: int) -> None:
        self._check(self._unshare(flags))

    def setns(self, fd: int, kind: int) -> None:
        self._check(self._setns(fd, kind))

    def mount(
        self, source: str | None, target: str, kind: str | None, flags: int, data: str | None = None
    ) -> None:
        def encode(text: str | None) -> bytes | None:
            return None if text is None else text.encode()

        self._check(self._mount(encode(source), target.encode(), encode(kind), flags, encode(data)))

    def drop_capabilities(self) -> None:
        """Every one, from the bounding set too: not even executing a program as uid 0
        gives one back. no_new_privs: nor does a setuid program."""
        capability = 0
        while self._prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) == 0:
            capability += 1
        if self.ctypes.get_errno() != errno.EINVAL:  # EINVAL: past the kernel's last one
            self._check(-1)
        self._check(self._prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
        header = (self.ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
        self._check(self._capset(header, (self.ctypes.c_uint32 * 6)()))  # all three sets empty
        self._check(self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


class Zygote:
    """Forks a fresh child per job and reports how it ended; never runs student code.

    Control messages (one JSON object per packet) from the grader: ``job``, with the job's
    limits (rlimits, scratch size) and its stdin, stdout, stderr and channel as SCM_RIGHTS
    descriptors, and ``kill``. To it:
    ``ready``, then per job ``exited`` with its first process's exit status.
    """

    def __init__(self, control_fd: int, config: dict) -> None:
        import socket  # only in the zygote: not on the one-off child's start-up path

        self.socket = socket
        self.control = socket.socket(fileno=control_fd)
        self.isolated = config["isolation"] == "bubblewrap"
        self.scratch_bytes = int(config["scratch_bytes"])  # for its own home
        self.scratch = config["scratch"]  # where, isolated, each job mounts its own
        self.proc_covered = config["proc_covered"]  # read-only in each job's /proc
        self.procs = config["procs_fd"]  # the member list of the worker's job cgroup, or None
        self.modules = config["preload"]
        self.font_list = config["font_list"]  # [where it is, its name], or None
        self.home_dirs: list[str] = []  # made in its home by the preload, as in each job's
        self.kernel = Kernel() if self.isolated else None
        if self.isolated:
            with open("/proc/self/uid_map") as mapping:
                if mapping.read().split() == HOST_UID_MAP:
                    raise SystemExit("the zygote keeps capabilities: never in the host's namespace")
            self.own_pids = os.open("/proc/self/ns/pid", os.O_RDONLY)
        self.job = None  # the pid of the running job's first process
        # SIGCHLD wakes the loop through a pipe: no threads in a process that forks.
        self.wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)

    def serve(self) -> None:
        """Until the grader closes the control socket (or breaks the protocol)."""
        import select

        self.preload()
        if self.isolated:
            self.rehearse()
        self.send({"op": "ready"})
        while True:
            ready, _, _ = select.select([self.control, self.wake_read], [], [])
            if self.wake_read in ready:
                os.read(self.wake_read, 4096)
                self.reap()
            if self.control in ready and not self.obey():
                self.kill()  # the grader is gone: so is its job
                return

    def obey(self) -> bool:
        data, fds, _, _ = self.socket.recv_fds(self.control, CONTROL_BYTES, JOB_FDS)
        message = json.loads(data) if data else {}
        if message.get("op") == "job" and len(fds) == JOB_FDS and self.job is None:
            self.start(message, fds)
            return True
        for fd in fds:
            os.close(fd)
        if message.get("op") == "kill":
            self.kill()
            return True
        return False

    def send(self, message: dict) -> None:
        self.control.send(json.dumps(message).encode())

    def preload(self) -> None:
        """Import the libraries submissions use, once, so that no job pays for them.

        The zygote runs with a job's environment, home included: what a library caches at
        import (matplotlib its config directory, and the font list it reads there, which
        the grader built) then holds in each job too. Isolated, that home is the scratch
        path, here a tmpfs of the zygote's own, which each job covers with a fresh one; the
        directories made in it are made again, empty, in each job's scratch, for the
        library that writes in the directory it made at import. A library that fails to
        import is left for the job to import, and fail on, itself.
        """
        home = os.environ["HOME"]
        if self.isolated:
            self.mount_scratch(home, self.scratch_bytes)
        if self.font_list is not None:  # the grader's, which matplotlib would build again
            source, name = self.font_list
            config = os.environ["MPLCONFIGDIR"]
            os.makedirs(config, exist_ok=True)
            with open(source, "rb") as built, open(os.path.join(config, name), "wb") as copy:
                copy.write(built.read())
        for name in self.modules:
            import_or_forget(name)
        if len(os.listdir("/proc/self/task")) > 1:
            # A fork copies only the forking thread: a job would inherit the others' locks.
            raise SystemExit(f"importing {', '.join(self.modules)} started a thread")
        self.home_dirs = [os.path.relpath(path, home) for path, _, _ in os.walk(home)][1:]

    def mount_scratch(self, path: str, size: int) -> None:
        """A fresh tmpfs of ``size`` bytes at ``path`` (in this process's mount namespace)."""
        options = f"size={size},mode=0755"
        self.kernel.mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)

    def rehearse(self) -> None:
        """Confine a child as a job's would be, once: where the kernel refuses (nested
        namespaces not allowed, say), the worker fails to start, rather than every job."""
        pid = self.fork()
        if pid == 0:
            status = 1
            try:
                self.isolate(self.scratch, self.scratch_bytes)
                status = 0
            except BaseException:
                sys.excepthook(*sys.exc_info())  # the worker's stderr: the grader's diagnosis
            finally:
                os._exit(status)
        if os.waitpid(pid, 0)[1] != 0:
            raise SystemExit(1)  # the child's error, last on stderr, says why

    def fork(self) -> int:
        if self.isolated:
            # The job's first process is pid 1 of a new pid namespace: it sees none of the
            # worker's processes, and when it dies every process of the job dies with it.
            self.kernel.unshare(CLONE_NEWPID)
        pid = os.fork()
        if pid != 0 and self.isolated:
            self.kernel.setns(self.own_pids, CLONE_NEWPID)  # the next fork is ours again
        return pid

    def start(self, message: dict, fds: list[int]) -> None:
        pid = self.fork()
        if pid == 0:
            self.become_job(message, fds)
        for fd in fds:
            os.close(fd)
        self.job = pid

    def kill(self) -> None:
        if self.job is not None:
            # Its own process group (and, isolated, pid 1 of its namespace: all of it).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.job, signal.SIGKILL)

    def reap(self) -> None:
        """Report the job's end; first kill what it left in its group (while the leader
        is a zombie, its group id cannot be reused)."""
        exited = os.WEXITED | os.WNOHANG | os.WNOWAIT
        if self.job is None or os.waitid(os.P_PID, self.job, exited) is None:
            return
        self.kill()
        _, status = os.waitpid(self.job, 0)
        self.job = None
        self.send({"op": "exited", "status": os.waitstatus_to_exitcode(status)})

    # --- in the forked child ---------------------------------------------------------

    def become_job(self, message: dict, fds: list[int]):
        """Turn this fork into the job's sandboxed runner; never returns to the loop."""
        try:
            run_job(self.enter_job(message, fds))
        except BaseException:
            sys.excepthook(*sys.exc_info())  # on the job's stderr: the grader sees a crash
        finally:
            os._exit(1)

    def enter_job(self, message: dict, fds: list[int]) -> int:
        """Confine this process before anything of the job runs; return its channel."""
        if self.procs is not None:
            os.write(self.procs, b"0")  # join the job cgroup first: all that follows counts
        os.setsid()  # its own session and process group, killed as one
        # Nothing of the zygote stays reachable: its handlers, its control socket (closed
        # through its object, so no later close hits a reused number), every descriptor
        # but the job's own.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.control.close()
        stdin, stdout, stderr, channel = fds
        for fd, standard in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, standard)
            os.close(fd)
        os.closerange(3, channel)
        os.closerange(channel + 1, os.sysconf("SC_OPEN_MAX"))
        if self.isolated:
            self.isolate(message["scratch"], message["scratch_bytes"])
        os.chdir(message["scratch"])
        for directory in self.home_dirs:
            os.mkdir(directory)
        os.environ.clear()
        os.environ.update(message["environment"])
        set_limits(message["rlimits"])
        if self.isolated:
            self.stay_as_init()
        sys.argv = [sys.argv[0], str(channel)]  # as a one-off child is started
        return channel

    def isolate(self, scratch: str, scratch_bytes: int) -> None:
        """Own mount, ipc and user namespaces, a fresh scratch and /proc, no capabilities."""
        kernel = self.kernel
        kernel.unshare(CLONE_NEWNS | CLONE_NEWIPC)  # ipc: no SysV object outlives the job
        kernel.mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing of ours shows elsewhere
        self.mount_scratch(scratch, scratch_bytes)
        kernel.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        # Read-only, as in a one-off sandbox: writing most sysctls takes only uid 0, which
        # is the host's uid 0, and the worker's network and uts namespaces are shared by
        # its jobs.
        read_only = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        for name in self.proc_covered:
            path = f"/proc/{name}"
            if os.path.exists(path):
                kernel.mount(path, path, None, MS_BIND | MS_REC)
                kernel.mount(None, path, None, read_only)
        # A user namespace of its own: its own keyrings, and the mounts above, made by its
        # parent namespace, are locked against it.
        uid, gid = os.geteuid(), os.getegid()
        kernel.unshare(CLONE_NEWUSER)
        mappings = {"setgroups": "deny", "uid_map": f"{uid} {uid} 1", "gid_map": f"{gid} {gid} 1"}
        for name, text in mappings.items():
            with open(f"/proc/self/{name}", "w") as mapping:
                mapping.write(text)
        kernel.drop_capabilities()

    @staticmethod
    def stay_as_init() -> None:
        """Fork the runner; stay behind as the job's pid 1, reaping orphans as bubblewrap's
        init does, and end with the runner, which ends every process of the job."""
        runner = os.fork()
        if runner == 0:
            return
        os.closerange(0, os.sysconf("SC_OPEN_MAX"))  # the job's pipes close with its processes
        # Python's own handler would let the job's processes interrupt their init; pid 1
        # without a handler ignores any signal sent from inside its namespace.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        while True:
            pid, status = os.wait()
            if pid == runner:
                code = os.waitstatus_to_exitcode(status)
                os._exit(128 - code if code < 0 else code)  # killed: 128 + signal, as bubblewrap


def run_job(channel_fd: int) -> None:
    """Run the job read from stdin, report on the channel, exit."""
    os.set_inheritable(channel_fd, False)  # not for the student's subprocesses
    # A write beyond RLIMIT_FSIZE then raises OSError in student code instead of killing.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # output survives a hard kill
    try:
        Runner(read_job(), Channel(channel_fd)).run()
    except MemoryError:
        # The runner itself found no memory left (say, sending what the student built):
        # the limit was hit, and the exit status says so; stderr could say anything.
        os._exit(MEMORY_EXIT)
    # Skip interpreter shutdown: no student atexit handler or __del__ runs after "done".
    os._exit(0)


def set_limits(rlimits) -> None:
    """The run's (resource, soft, hard) limits, hard ones too: nothing can raise them again."""
    strict = sys.platform.startswith("linux")
    for kind, soft, hard in rlimits:
        try:
            resource.setrlimit(kind, (soft, hard))
        except (OSError, ValueError):
            if strict:  # macOS, for one, rejects some limits it does not enforce
                raise


def main() -> None:
    if sys.argv[1] == "--zygote":
        Zygote(int(sys.argv[2]), json.loads(sys.argv[3])).serve()
        return
    # A one-off run confines itself here, not between fork and exec in the grader, whose
    # threads make anything but system calls unsafe there; no student code has run yet.
    config = json.loads(sys.argv[2])
    procs = config["procs_fd"]
    if procs is not None:
        os.write(procs, b"0")  # join the run's pids cgroup: everything it starts counts
        os.close(procs)
    set_limits(config["rlimits"])
    sys.argv = sys.argv[:2]  # as a pooled job is started
    run_job(int(sys.argv[1]))


if __name__ == "__main__":
    main()

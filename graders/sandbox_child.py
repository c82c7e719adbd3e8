"""Runs one submission inside the sandbox and sends plain data back to the grader.

Started by ``graders/sandbox.py`` as ``python -I -B sandbox_child.py CHANNEL_FD``. This file
is the only part of the grader the sandbox can see (bound read-only), so it imports the
standard library and numpy only. It

1. imports numpy at once, so that numpy's start-up overlaps the grader's own work;
2. reads the job (JSON) from stdin, then points stdin at /dev/null;
3. runs the prelude, then every cell in one namespace, each under a soft time limit
   (an erroring cell does not stop the next one, as in a notebook);
4. after each cell that binds an exercise's names, snapshots them (and makes the
   exercise's calls) and sends the snapshot at once, so a later crash cannot lose it.

Results travel over the pipe CHANNEL_FD as frames: 4-byte big-endian length, then JSON.
stdout and stderr are the student's; ``print`` cannot reach the channel.

Nothing in this file is a security boundary: student code runs in this very process and
could rewrite any of it. The boundary is the process (inside bubblewrap); the grader's
decoder accepts nothing but plain data. This runner only has to be right for honest code
and to fail closed for hostile code: student objects are read through the built-in
types' own slots (``float.hex(x)``, ``list.__getitem__(x, i)``), so a rigged ``__eq__``,
``__float__`` or ``__array__`` never runs and the object crosses as an opaque marker.
"""

import base64
import contextlib
import importlib
import json
import os
import signal
import struct
import sys
import types

import numpy as np  # before the job is read: this import overlaps the grader's start-up

MAX_DEPTH = 32  # nesting of lists and tuples
MAX_ITEMS = 1_000_000  # list and tuple elements per message
MAX_ARRAY_ELEMENTS = 10**7
MAX_STR_CHARS = 100_000
MESSAGE_DATA_BUDGET = 128 * 2**20  # bytes of array data and text per message
TEXT_CAP = 2_000  # exception messages, code lines, summaries
NAME_CAP = 200
MAX_INT_BITS = 4_096
TEXT_SECONDS = 1.0  # str() of a student's exception

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


def opaque(tp, summary_text: str = "") -> dict:
    return {"t": "opaque", "type": type_name(tp), "summary": summary_text[:TEXT_CAP]}


class Encoder:
    """Turns the values of one message into plain JSON data, within size bounds."""

    def __init__(self, soft_limit: SoftLimit, seconds: float) -> None:
        self.soft_limit = soft_limit
        self.seconds = seconds
        self.budget = MESSAGE_DATA_BUDGET
        self.items = MAX_ITEMS

    def encode_top(self, value) -> dict:
        """Encode one snapshot value; a failure makes it opaque rather than losing the rest."""
        try:
            return self.encode(value, 0)
        except Exception as exc:
            return opaque(type(value), f"could not be read: {type_name(type(exc))}")

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
        if array.size > MAX_ARRAY_ELEMENTS or nbytes > self.budget:
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


class Channel:
    """Length-prefixed JSON frames on the result pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
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
        elif issubclass(type(exc), MemoryError):
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
        return failure(
            described["exception"], described["message"], line, self.code_at(filename, line)
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


def main() -> None:
    channel_fd = int(sys.argv[1])
    os.set_inheritable(channel_fd, False)  # not for the student's subprocesses
    # A write beyond RLIMIT_FSIZE then raises OSError in student code instead of killing.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # output survives a hard kill
    Runner(read_job(), Channel(channel_fd)).run()
    # Skip interpreter shutdown: no student atexit handler or __del__ runs after "done".
    os._exit(0)


if __name__ == "__main__":
    main()

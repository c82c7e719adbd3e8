"""Exercise specs: load a YAML file, validate it, and refuse it clearly when it is wrong.

A spec is the whole description of an exercise — what the student defines, what is in
scope before their code runs, the checks with tolerances and points, the known
mistakes, the inputs for function checks and the limits. Specs and reference modules
are instructor-written and trusted; student text never reaches the Python expressions
they contain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from . import checks, sandbox
from .errors import SpecError


def _bundled_course() -> Path:
    """Where the W0D4 course is: inside the package when a wheel installed it, else (a
    source checkout, an editable install) the repository's top folder."""
    installed = resources.files(f"{__package__}.course")
    if installed.joinpath("exercises").is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent


# A course folder holds exercises/ (the specs) and reference/ (their solutions). The
# bundled one is W0D4; instructors point --course at their own.
DEFAULT_COURSE = _bundled_course()
sandbox.conceal(DEFAULT_COURSE)  # wherever it is installed, student code never sees it

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
EXERCISE_ID = r"^[a-z][a-z0-9_]*$"  # also a file name: exercises/<id>.yaml, reference/<id>.py
ASSIGNMENT = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
# A given value or input parameter: a number, or a Python expression over np and earlier names.
GivenValue = float | int | str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_kind(name: str) -> str:
    known = checks.names()
    if name not in known:
        expected = " or ".join(repr(k) for k in known)
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return name


# A comparison kind (graders.checks): a built-in one or one registered since.
CompareKind = Annotated[str, AfterValidator(_known_kind)]


class ExerciseKind(StrEnum):
    VALUES = "values"  # the student binds values
    FUNCTION = "function"  # the student writes a function, called with the spec's inputs
    EXPRESSION = "expression"  # the student may type the answer (a formula)


class Mistake(Strict):
    """A known mistake: the wrong value it produces (``value``), or, where a wrong step changes
    every later value of a simulation, the mistaken implementation itself (``code``)."""

    id: Identifier
    value: str | None = Field(
        default=None,
        description="numeric checks: a Python expression; expression checks: a formula",
    )
    code: str | None = Field(
        default=None,
        description="a function of the reference module (its name), or Python source run as the "
        "reference is: a cell defining the check's name, or defining the exercise's function",
    )
    feedback: str = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _compiles(cls, code: str | None) -> str | None:
        if code is None or re.match(IDENTIFIER, code.strip()):
            return code
        try:
            compile(code, "<mistake code>", "exec")
        except SyntaxError as exc:
            raise ValueError(
                f"does not compile: {exc.msg} (line {exc.lineno} of the code)"
            ) from None
        return code

    @model_validator(mode="after")
    def _value_or_code(self) -> Mistake:
        if (self.value is None) == (self.code is None):
            raise ValueError(
                f"mistake {self.id}: give either value (the wrong value, an expression) or code "
                "(the mistaken implementation), not both or neither"
            )
        return self

    @property
    def function(self) -> str | None:
        """The reference module's function that ``code`` names, if it is a name."""
        if self.code is not None and re.match(IDENTIFIER, self.code.strip()):
            return self.code.strip()
        return None


class Check(Strict):
    name: Identifier
    compare: CompareKind = checks.Compare.NUMERIC
    counts: Identifier | None = Field(
        default=None, description="count checks: the events check whose events this counts"
    )
    noun: Annotated[str, Field(pattern=r"^[a-z][a-z -]*$")] | None = Field(
        default=None, description="events checks: what one event is called (default: event)"
    )
    points: float = Field(default=1.0, gt=0)
    rtol: float = Field(default=1e-6, ge=0)
    atol: float = Field(default=1e-9, ge=0)
    allow_constant: bool = False
    quantity: Literal["derivative", "integral"] | None = Field(
        default=None,
        description="numeric checks: what the values are, so that an answer close to them is "
        "told the right kind of numerical estimate",
    )
    hidden: bool = False
    hint: str | None = None
    mistakes: list[Mistake] = []


class Setup(Strict):
    modules: dict[Identifier, str] = Field(
        default_factory=dict, description="alias -> module, imported on first use in the sandbox"
    )
    code: str = ""


class Uniform(Strict):
    uniform: tuple[float, float]


class Choice(Strict):
    choice: list[float] = Field(min_length=1)


RandomParameter = Uniform | Choice | GivenValue


class RandomInputs(Strict):
    count: int = Field(ge=5, le=100)
    seed: int
    parameters: dict[Identifier, RandomParameter]


class Returned(Strict):
    """A returned value that names the argument it runs along: ``{name: V, axis: time}``."""

    name: Identifier
    axis: Identifier = Field(description="the array argument that indexes this value")


class Function(Strict):
    name: Identifier
    arguments: list[Identifier] = Field(min_length=1)
    returns: list[Identifier | Returned] = Field(
        min_length=1, description="the check names, in order; each may name its axis argument"
    )
    inputs: list[dict[Identifier, GivenValue]] = Field(
        min_length=1, description="the tutorial's own inputs, one mapping per call"
    )
    random: RandomInputs

    @model_validator(mode="after")
    def _inputs_give_every_argument(self) -> Function:
        needed = set(self.arguments)
        for number, call in enumerate(self.inputs, 1):
            if missing := needed - set(call):
                raise ValueError(f"inputs call {number} lacks {', '.join(sorted(missing))}")
        if missing := needed - set(self.random.parameters):
            raise ValueError(f"random.parameters lacks {', '.join(sorted(missing))}")
        for returned in self.returns:
            if isinstance(returned, Returned) and returned.axis not in self.arguments:
                raise ValueError(
                    f"returns {returned.name}: axis '{returned.axis}' is not one of the "
                    f"arguments ({', '.join(self.arguments)})"
                )
        return self

    @property
    def return_names(self) -> list[str]:
        return [r.name if isinstance(r, Returned) else r for r in self.returns]

    def axis_of(self, name: str) -> str | None:
        """The argument a returned value is declared to run along, if any."""
        return next(
            (r.axis for r in self.returns if isinstance(r, Returned) and r.name == name), None
        )


class Expression(Strict):
    variable: Identifier | None = None
    domain: tuple[float, float] = (-1.5, 1.5)
    variables: dict[Identifier, tuple[float, float]] = Field(
        default_factory=dict,
        description="several variables, each with the domain it is sampled on: {x: [-2, 2]}",
    )

    @model_validator(mode="after")
    def _variables(self) -> Expression:
        if (self.variable is None) == (not self.variables):
            raise ValueError(
                "give either variable (and its domain) or variables (each with its domain)"
            )
        for name, (low, high) in self.domains.items():
            if not low < high:
                raise ValueError(f"the domain of {name} must be [low, high] with low < high")
        return self

    @property
    def domains(self) -> dict[str, tuple[float, float]]:
        """Each variable's domain, in order."""
        if self.variable is not None:
            return {self.variable: self.domain}
        return dict(self.variables)


class Limits(Strict):
    cell_seconds: float | None = Field(default=None, gt=0)
    total_seconds: float | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, ge=64)


class Spec(Strict):
    id: Annotated[str, Field(pattern=EXERCISE_ID)]
    title: str = Field(min_length=1)
    source: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    reference: Identifier | None = Field(
        default=None, description="module in reference/; default: id"
    )
    setup: Setup = Setup()
    given: dict[Identifier, GivenValue] = {}
    axis: Identifier | None = Field(
        default=None, description="the given that indexes array answers"
    )
    axes: list[Identifier] = Field(
        default_factory=list,
        description="the givens along which the rows and the columns of 2-D answers run",
    )
    from_submission: list[Identifier] = Field(
        default_factory=list,
        description="given arrays taken from the submission when it defines them (a random "
        "signal): the expected values are computed from the student's own",
    )
    checks: list[Check] = Field(min_length=1)
    assignment: Annotated[str, Field(pattern=ASSIGNMENT)] | None = Field(
        default=None, description="the handed-out notebook this exercise is part of"
    )
    markers: list[Annotated[str, Field(pattern=r"\S")]] = Field(
        default_factory=list,
        description="lines of the exercise's heading or handed-out cell that identify it",
    )
    function: Function | None = None
    expression: Expression | None = None
    limits: Limits = Limits()
    _course: Path = PrivateAttr(default=DEFAULT_COURSE)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        # Unpickled in another process (a Dask worker): its course is in use there too.
        super().__setstate__(state)
        sandbox.conceal(self._course)

    @field_validator("checks")
    @classmethod
    def _unique_names(cls, checks: list[Check]) -> list[Check]:
        names = [check.name for check in checks]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"duplicate check names: {', '.join(duplicates)}")
        for check in checks:
            ids = [mistake.id for mistake in check.mistakes]
            if duplicates := sorted({id_ for id_ in ids if ids.count(id_) > 1}):
                raise ValueError(f"{check.name}: duplicate mistake ids: {', '.join(duplicates)}")
        return checks

    @field_validator("axes")
    @classmethod
    def _rows_and_columns(cls, axes: list[str], info: ValidationInfo) -> list[str]:
        if axes and len(axes) != 2:
            raise ValueError("axes names two given values: [rows, columns]")
        if unknown := [name for name in axes if name not in info.data.get("given", {})]:
            raise ValueError(f"{', '.join(unknown)} must be given values")
        return axes

    @field_validator("from_submission")
    @classmethod
    def _given_first(cls, names: list[str], info: ValidationInfo) -> list[str]:
        given = info.data.get("given", {})
        if unknown := [name for name in names if name not in given]:
            raise ValueError(
                f"{', '.join(unknown)} must also be in given (the value used where the "
                "submission does not define it)"
            )
        return names

    @field_validator("markers")
    @classmethod
    def _one_line_each(cls, markers: list[str]) -> list[str]:
        if any("\n" in marker for marker in markers):
            raise ValueError("a marker is one line of the notebook")
        return [marker.strip() for marker in markers]

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        formulas = [c.name for c in self.checks if checks.kind(c.compare).typed_answers]
        if formulas and self.expression is None:
            raise ValueError(
                f"formula checks ({', '.join(formulas)}) need an 'expression' section "
                "(variable and domain, or variables)"
            )
        by_name = {check.name: check for check in self.checks}
        for number, check in enumerate(self.checks):
            _check_consistent(number, check, by_name, self.function is not None)
        if self.function is not None:
            if formulas:
                raise ValueError("a function exercise has no expression checks")
            unknown = [c.name for c in self.checks if c.name not in self.function.return_names]
            if unknown:
                raise ValueError(f"checks {', '.join(unknown)} are not in function.returns")
        if self.axis is not None and self.axis not in self.given:
            raise ValueError(f"axis '{self.axis}' is not one of the given values")
        single = [c.name for c in self.checks if c.compare == checks.Compare.ANTIDERIVATIVE]
        if single and self.expression is not None and len(self.expression.domains) > 1:
            raise ValueError(f"antiderivative checks ({', '.join(single)}) take one variable")
        return self

    @property
    def reference_path(self) -> Path:
        return self._course / "reference" / f"{self.reference or self.id}.py"

    @property
    def kind(self) -> ExerciseKind:
        if self.function is not None:
            return ExerciseKind.FUNCTION
        if self.accepts_typed_answers:
            return ExerciseKind.EXPRESSION
        return ExerciseKind.VALUES

    @property
    def accepts_typed_answers(self) -> bool:
        """Whether a typed answer (``--answer``, a ``.txt``) can be graded: a value exercise
        with a check whose kind reads typed answers (a formula)."""
        return self.function is None and any(
            checks.kind(check.compare).typed_answers for check in self.checks
        )

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def answer_names(self) -> list[str]:
        """The names a student's code must bind for this exercise."""
        if self.function is not None:
            return [self.function.name]
        return [check.name for check in self.checks]

    @property
    def snapshot_names(self) -> list[str]:
        """The names read after the exercise's cell: its answers and the student's own
        values it is graded against (``from_submission``)."""
        return [*self.answer_names, *self.from_submission]


def _check_consistent(number: int, check: Check, by_name: dict[str, Check], function: bool) -> None:
    """What a check's fields mean together with the rest of the spec; an error names the field
    (and so the YAML line) it is about."""
    at: tuple[str | int, ...] = ("checks", number)
    if (check.compare == checks.Compare.COUNT) != (check.counts is not None):
        raise _field_error((*at, "counts"), "goes with compare: count, and only there")
    events = by_name.get(check.counts or "", check)
    if check.counts is not None and events.compare != checks.Compare.EVENTS:
        raise _field_error((*at, "counts"), f"'{check.counts}' is not an events check here")
    if check.noun is not None and check.compare != checks.Compare.EVENTS:
        raise _field_error((*at, "noun"), "goes with compare: events, and only there")
    for index, mistake in enumerate(check.mistakes):
        where = (*at, "mistakes", index, "code")
        if mistake.code is not None and check.compare == checks.Compare.EXPRESSION:
            raise _field_error(where, "an expression check's mistakes are formulas (value)")
        if mistake.function is not None and not function:
            raise _field_error(
                where,
                "names a function, but this exercise has no function to replace; give the "
                f"mistaken cell's code, which defines {check.name}",
            )


def _field_error(loc: tuple[str | int, ...], message: str) -> ValidationError:
    """A validation error located at one field, from a check that needs the whole spec."""
    details = InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=loc, input=None
    )
    return ValidationError.from_exception_data("Spec", [details])


def load_spec(path: Path) -> Spec:
    """Read and validate one spec file; any problem becomes one SpecError line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a spec must be a YAML mapping of fields, got {type(data).__name__}"
        )
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        # The node tree, only to name the line: text that loaded composes without error.
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raise SpecError(_describe(path, exc, node)) from None
    if spec.id != path.stem:
        raise SpecError(f"{path}: id '{spec.id}' must match the file name '{path.stem}'")
    spec._course = path.resolve().parent.parent
    sandbox.conceal(spec._course)
    return spec


def _describe(path: Path, error: ValidationError, node: yaml.Node | None) -> str:
    first = error.errors()[0]
    loc = [part for part in first["loc"] if not _is_union_branch(part)]
    field = ".".join(str(part) for part in loc) or "(top level)"
    line = _line_of(node, loc)
    where = f" (line {line})" if line else ""
    more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
    return f"{path}{where}: {field}: {first['msg']}{more}"


def _is_union_branch(part: Any) -> bool:
    # pydantic names the union member it tried ("Uniform", "float", "function-after[...]").
    return isinstance(part, str) and bool(
        re.match(r"^([A-Z]\w*|float|int|str|[a-z-]+\[.*\])$", part)
    )


def _line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """Walk the composed YAML tree along a validation error's path to the deepest known line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def spec_paths(course: Path = DEFAULT_COURSE) -> list[Path]:
    directory = course / "exercises"
    if not directory.is_dir():
        raise SpecError(f"{course}: not a course folder (it has no exercises/ folder)")
    return sorted(directory.glob("*.yaml"))


def load_all(course: Path = DEFAULT_COURSE) -> list[Spec]:
    return [load_spec(path) for path in spec_paths(course)]


def load_specs(course: Path = DEFAULT_COURSE, exercise_ids: Sequence[str] = ()) -> list[Spec]:
    """The course's exercises, or only those named, in the order named."""
    if exercise_ids:
        return [find(exercise_id, course) for exercise_id in exercise_ids]
    return load_all(course)


def of_assignment(specs: Sequence[Spec], assignment: str) -> list[Spec]:
    """The exercises of one assignment; an assignment none of them has is refused."""
    chosen = [spec for spec in specs if spec.assignment == assignment]
    if not chosen:
        known = ", ".join(sorted({s.assignment for s in specs if s.assignment})) or "none"
        raise SpecError(f"unknown assignment '{assignment}' (known: {known})")
    return chosen


def find(exercise_id: str, course: Path = DEFAULT_COURSE) -> Spec:
    path = course / "exercises" / f"{exercise_id}.yaml"
    if not re.match(EXERCISE_ID, exercise_id) or not path.is_file():
        known = ", ".join(path.stem for path in spec_paths(course)) or "none"
        raise SpecError(f"unknown exercise '{exercise_id}' (known: {known})")
    return load_spec(path)

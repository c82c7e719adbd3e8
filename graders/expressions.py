"""Reading and grading typed formulas such as ``4a^3 e^(a^4+1)``.

A student's formula is untrusted text that is read in the trusted grading process, so
it never goes near ``eval``, ``compile`` or sympy's parsers: a small hand-written lexer
and recursive-descent parser turn it into a tree of frozen dataclasses, with hard limits
on length, size and nesting so that no input can hang the grader or overflow the stack.

Equivalence is decided numerically rather than symbolically (importing sympy alone
would cost more than the whole self-check may take): the student's formula and the
reference are evaluated with numpy at seeded random points and a few fixed non-integer
points, so agreeing at 0, ±1 or the integers is not enough to pass.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from graders.results import Comparison
from graders.values import CallFailure, Opaque, Placeholder, SymbolicText

MAX_LENGTH = 1000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_DIGITS = 30


class ExpressionError(ValueError):
    """An answer that cannot be read as a formula; ``message`` is written for the student."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 0-based index into the original text, where known


@dataclass(frozen=True)
class ExpressionMistake:
    """A known wrong answer (in the same grammar) and the feedback it deserves."""

    id: str
    expression: str
    feedback: str


# --- The tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Constant:
    name: str  # "e" or "pi"


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str  # one of + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str  # a canonical name, a key of _EVALUATORS
    argument: Node


Node = Number | Variable | Constant | Negate | Binary | Call


# --- Vocabulary ----------------------------------------------------------------------

_EVALUATORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "ln": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "abs": np.abs,
}

# Spellings (looked up in lower case, so sympy's ``Abs`` works) -> canonical name.
_FUNCTIONS = {name: name for name in _EVALUATORS} | {
    "log": "ln",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
}

_CONSTANTS = {"e": "e", "E": "e", "pi": "pi", "Pi": "pi", "PI": "pi", "π": "pi", "ℯ": "e"}
_CONSTANT_VALUES = {"e": np.e, "pi": np.pi}

# Words that ask the computer to do the work, or that are code rather than a formula.
_DIFFERENTIATION = {"diff", "derivative", "fdiff", "grad", "gradient"}
_INTEGRATION = {"integrate", "integral"}
_CAS_COMMANDS = {
    "factorial", "limit", "subs", "simplify", "solve", "expand", "series", "evalf",
    "dsolve", "collect", "factor", "symbol", "symbols", "function", "doit", "lim",
}  # fmt: skip
_CODE_WORDS = {
    "lambda", "lambdify", "sympify", "eval", "exec", "compile", "import", "open", "print",
    "def", "return", "getattr", "setattr", "globals", "locals", "vars", "input",
}  # fmt: skip
_MODULES = {"np", "numpy", "math", "sp", "sympy", "scipy", "torch"}

_OPERATORS = {
    "+": "+", "-": "-", "−": "-", "*": "*", "·": "*", "×": "*", "⋅": "*", "∙": "*",
    "/": "/", "÷": "/", "^": "^",
}  # fmt: skip
_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = set(_OPENING.values())
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾", "0123456789+-()", strict=True))

_LATEX_FUNCTIONS = {"exp", "ln", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh",
                    "arcsin", "arccos", "arctan"}  # fmt: skip
_LATEX_OPERATORS = {"cdot": "*", "times": "*", "ast": "*", "div": "/"}
_LATEX_FRACTIONS = {"frac", "dfrac", "tfrac"}
_LATEX_SPACING = {"left", "right", "quad", "qquad", "displaystyle"}
_LATEX_WRAPPERS = {"mathrm", "operatorname", "text", "mathit", "rm"}

_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("`", "`"))
_NUMBER = re.compile(r"([0-9]*\.[0-9]+|[0-9]+\.?)([eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_]+")
_LATEX_WORD = re.compile(r"[A-Za-z]+")
_LATEX_LOG10 = re.compile(r"_\{?10\}?")
_WRAPPED_WORD = re.compile(r"\{\s*([A-Za-z]+)\s*\}")


# --- Lexing --------------------------------------------------------------------------

NUMBER, VARIABLE, CONSTANT, FUNCTION, OPERATOR, OPEN, CLOSE, FRACTION, END = (
    "number", "variable", "constant", "function", "operator", "open", "close", "fraction", "end",
)  # fmt: skip


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str  # normalized: "^" for "**", canonical function names, "e"/"pi", ...
    position: int
    raw: str  # the characters as the student typed them, for messages
    value: float = 0.0
    latex: bool = False


def _pointer(text: str, position: int) -> str:
    """The text (or a window of it) with a caret under ``position``, for error messages."""
    start = max(0, position - 50)
    window = text[start : position + 30].replace("\n", " ").replace("\t", " ")
    prefix = "…" if start else ""
    return f"\n    {prefix}{window}\n    {' ' * (len(prefix) + position - start)}^"


def _error(text: str, message: str, position: int) -> ExpressionError:
    """A positional error whose message shows where in the answer it happened."""
    return ExpressionError(f"{message} at position {position}:{_pointer(text, position)}", position)


class _Lexer:
    """Turns ``text[start:end]`` into tokens whose positions index the original text."""

    def __init__(self, text: str, start: int, end: int, variables: Sequence[str]) -> None:
        self.text = text
        self.pos = start
        self.end = end
        self.variables = tuple(variables)
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        while self.pos < self.end:
            self._step()
        self.tokens.append(_Token(END, "", self.end, ""))
        return self.tokens

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < self.end else ""

    def _emit(
        self, kind: str, text: str, length: int, value: float = 0.0, latex: bool = False
    ) -> None:
        raw = self.text[self.pos : self.pos + length]
        self.tokens.append(_Token(kind, text, self.pos, raw, value, latex))
        self.pos += length

    def _step(self) -> None:
        char = self._peek()
        if char.isspace():
            self.pos += 1
        elif "0" <= char <= "9" or (char == "." and "0" <= self._peek(1) <= "9"):
            self._number()
        elif char.isascii() and (char.isalpha() or char == "_"):
            self._word()
        elif char == "\\":
            self._latex()
        elif char in _SUPERSCRIPTS:
            self._superscript()
        elif char == "*" and self._peek(1) == "*":
            self._emit(OPERATOR, "^", 2)
        elif char in _OPERATORS:
            self._emit(OPERATOR, _OPERATORS[char], 1)
        elif char in _OPENING:
            self._emit(OPEN, char, 1)
        elif char in _CLOSING:
            self._emit(CLOSE, char, 1)
        elif char in _CONSTANTS:
            self._emit(CONSTANT, _CONSTANTS[char], 1)
        else:
            raise self._unexpected(char)

    def _number(self) -> None:
        match = _NUMBER.match(self.text, self.pos, self.end)
        assert match is not None  # _step only calls this at a digit or ".digit"
        literal = match.group()
        if sum(c.isdigit() for c in literal) > MAX_DIGITS:
            raise _error(self.text, f"number too long (more than {MAX_DIGITS} digits)", self.pos)
        if self.pos + len(literal) < self.end and self.text[self.pos + len(literal)] == ".":
            raise _error(self.text, "malformed number", self.pos)
        self._emit(NUMBER, literal, len(literal), value=float(literal))

    def _word(self) -> None:
        match = _WORD.match(self.text, self.pos, self.end)
        assert match is not None  # _step only calls this at a letter or "_"
        word = match.group()
        if word.lower() == "log" and self.text.startswith("10", self.pos + 3):
            word += "10"
        self._word_tokens(word, self.pos)
        self.pos += len(word)

    def _word_tokens(self, word: str, position: int, latex: bool = False) -> None:
        """Classify a run of letters: a known name, letters written together, or an error."""
        token = self._name_token(word, position, latex)
        if token is not None:
            self.tokens.append(token)
            return
        self._reject_word(word, position)
        pieces = self._split(word, position)
        if pieces is None:
            raise _error(self.text, f"unknown name '{word}'", position)
        self.tokens.extend(pieces)

    def _name_token(self, word: str, position: int, latex: bool) -> _Token | None:
        if word in self.variables:
            return _Token(VARIABLE, word, position, word)
        if word in _CONSTANTS:
            return _Token(CONSTANT, _CONSTANTS[word], position, word)
        if word.lower() in _FUNCTIONS:
            return _Token(FUNCTION, _FUNCTIONS[word.lower()], position, word, latex=latex)
        return None

    def _reject_word(self, word: str, position: int) -> None:
        """Explain words that are commands, code or another variable, not part of a formula."""
        lowered = word.lower()
        formula = f"write the derivative itself as a formula in {listing(self.variables)}"
        if lowered in _DIFFERENTIATION:
            message = f"`{word}` asks the computer to do the differentiation; {formula}"
        elif lowered in _INTEGRATION:
            message = f"`{word}` asks the computer to integrate; {formula}"
        elif lowered in _CAS_COMMANDS:
            message = f"`{word}` is a computer-algebra command, not part of a formula; {formula}"
        elif lowered in _MODULES:
            message = f"`{word}.` prefixes are not needed: write exp(...) rather than np.exp(...)"
        elif lowered in _CODE_WORDS or "__" in word:
            message = f"`{word}` is Python code, not part of a formula; {formula}"
        elif len(word) == 1 and word.isalpha():
            message = (
                f"{_variables_phrase(self.variables)}; your answer uses {word} "
                f"(at position {position})"
            )
        else:
            return
        raise ExpressionError(message, position)

    def _split(self, word: str, position: int) -> list[_Token] | None:
        """Read letters written together (``ae`` is a*e, ``aexp`` is a*exp), or None."""
        pieces: list[_Token] = []
        index = 0
        while index < len(word):
            rest = word[index:]
            if rest.lower() in _FUNCTIONS:
                name = rest
            else:
                # Longest first: with variables t and tau, "tau" is not t*a*u, and with
                # single-letter constants (C, p, i) "pi" is still π.
                names = sorted((*self.variables, "pi", "e", "E"), key=len, reverse=True)
                name = next((n for n in names if rest.startswith(n)), "")
            token = self._name_token(name, position + index, latex=False) if name else None
            if token is None:
                return None
            pieces.append(token)
            index += len(name)
        return pieces

    def _superscript(self) -> None:
        """``a⁻¹`` is read as ``a^(-1)``: the run of superscripts becomes a bracketed exponent."""
        start = self.pos
        while self.pos < self.end and self.text[self.pos] in _SUPERSCRIPTS:
            self.pos += 1
        inner = "".join(_SUPERSCRIPTS[c] for c in self.text[start : self.pos])
        # One character each way, so lexing the translated text keeps the positions.
        translated = self.text[:start] + inner + self.text[self.pos :]
        exponent = _Lexer(translated, start, self.pos, self.variables).run()[:-1]
        first, last = self.text[start], self.text[self.pos - 1]
        self.tokens.append(_Token(OPERATOR, "^", start, first))
        self.tokens.append(_Token(OPEN, "(", start, first))
        self.tokens.extend(exponent)
        self.tokens.append(_Token(CLOSE, ")", self.pos - 1, last))

    def _latex(self) -> None:
        following = self._peek(1)
        if following in (",", ";", ":", "!", " "):
            self.pos += 2
        elif following in ("{", "}"):
            self.pos += 1
            self._emit(OPEN if following == "{" else CLOSE, following, 1)
        elif following.isascii() and following.isalpha():
            self._latex_command()
        else:
            raise _error(self.text, "unexpected backslash", self.pos)

    def _latex_command(self) -> None:
        match = _LATEX_WORD.match(self.text, self.pos + 1, self.end)
        assert match is not None  # _latex checked that a letter follows
        command = match.group()
        length = len(command) + 1
        base = _LATEX_LOG10.match(self.text, self.pos + length, self.end)
        if command == "log" and base is not None:
            self._emit(FUNCTION, "log10", length + len(base.group()), latex=True)
        elif command in _LATEX_FUNCTIONS:
            self._emit(FUNCTION, _FUNCTIONS[command], length, latex=True)
        elif command == "pi":
            self._emit(CONSTANT, "pi", length)
        elif command in _LATEX_OPERATORS:
            self._emit(OPERATOR, _LATEX_OPERATORS[command], length)
        elif command in _LATEX_FRACTIONS:
            self._emit(FRACTION, "frac", length)
        elif command in _LATEX_SPACING:
            self.pos += length
            if self._peek() == "." and command in ("left", "right"):
                self.pos += 1  # \left. and \right. are invisible brackets
        elif command in _LATEX_WRAPPERS:
            self.pos += length
            self._wrapped_word()
        else:
            raise _error(self.text, f"unknown LaTeX command \\{command}", self.pos)

    def _wrapped_word(self) -> None:
        """``\\mathrm{e}`` and ``\\operatorname{exp}`` name a constant or function."""
        match = _WRAPPED_WORD.match(self.text, self.pos, self.end)
        if match is not None:
            self._word_tokens(match.group(1), match.start(1), latex=True)
            self.pos = match.end()

    def _unexpected(self, char: str) -> ExpressionError:
        position = self.pos
        if char == "=":
            message = (
                "'=' is not allowed here: give only the expression "
                "(a single label such as dr/da = in front is fine)"
            )
        elif char in "'\"":
            message = "quotes are not part of a formula: give only the formula itself"
        elif char == "." and self._peek(1).isalpha():
            message = "'.' here looks like Python attribute access, which is not allowed"
        elif char == ",":
            message = "',' is not allowed: give a single expression, and use '.' for decimals"
        elif char == ";":
            message = "';' is not allowed: give a single expression"
        elif char == "!":
            message = "'!' (factorial) is not allowed"
        elif char == "|":
            message = "'|' is not allowed: write abs(...) for an absolute value"
        else:
            message = f"unexpected character {char!r}"
        return _error(self.text, message, position)


# --- Parsing -------------------------------------------------------------------------


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_label(left: str, variables: Sequence[str]) -> bool:
    """``dr/da``, ``dr_da``, ``\\frac{dr}{da}``, ``d/da r`` or ``r'(a)``, or a function of
    the variables such as ``F(t)``, in front of ``=``."""
    if not left.strip():
        return False
    if "'" in left or ("d" in left and any(v in left for v in variables)):
        return True
    function = re.fullmatch(r"\s*[A-Za-z]\w*\s*\(([^()]*)\)\s*", left)
    return function is not None and {name.strip() for name in function[1].split(",")} <= set(
        variables
    )


def as_variables(variable: str | Sequence[str]) -> tuple[str, ...]:
    """One variable's name, or several, as a tuple."""
    return (variable,) if isinstance(variable, str) else tuple(variable)


def listing(names: Sequence[str]) -> str:
    """``t``, ``x and y``, ``x, y and z``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _variables_phrase(variables: Sequence[str]) -> str:
    if len(variables) == 1:
        return f"this exercise's variable is {variables[0]}"
    return f"this exercise's variables are {listing(variables)}"


def _body_span(text: str, variable: str | Sequence[str]) -> tuple[int, int]:
    """Where the formula sits in ``text``, without math delimiters or a ``dr/da =`` label."""
    variables = as_variables(variable)
    start, end = _trim(text, 0, len(text))
    for opening, closing in _DELIMITERS:
        inside = end - start - len(opening) - len(closing)
        if inside >= 0 and text.startswith(opening, start) and text.endswith(closing, 0, end):
            start, end = _trim(text, start + len(opening), end - len(closing))
            break
    equals = [index for index in range(start, end) if text[index] == "="]
    if len(equals) == 1 and _is_label(text[start : equals[0]], variables):
        start, end = _trim(text, equals[0] + 1, end)
    return start, end


class _Parser:
    """Recursive descent over the tokens; counts nodes and nesting so both stay bounded."""

    def __init__(self, text: str, tokens: list[_Token], variables: tuple[str, ...]) -> None:
        self.text = text
        self.tokens = tokens
        self.variables = variables
        self.index = 0
        self.depth = 0
        self.nodes = 0

    def parse(self) -> Node:
        if self._peek().kind == END:
            raise ExpressionError("the answer is empty", self._peek().position)
        node = self._sum()
        token = self._peek()
        if token.kind != END:
            raise _error(self.text, f"unmatched '{token.raw}'", token.position)
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _previous(self) -> _Token | None:
        return self.tokens[self.index - 1] if self.index else None

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _is_operator(self, symbols: str) -> bool:
        token = self._peek()
        return token.kind == OPERATOR and token.text in symbols

    def _make(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(
                f"the formula is too long (more than {MAX_NODES} parts)",
                self._peek().position,
            )
        return node

    @contextmanager
    def _nested(self, token: _Token) -> Iterator[None]:
        """Brackets and exponents nest; the limit keeps recursion far from Python's own."""
        if self.depth >= MAX_DEPTH:
            message = f"brackets or powers nested too deeply (over {MAX_DEPTH} levels)"
            raise _error(self.text, message, token.position)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def _sum(self) -> Node:
        node = self._product()
        while self._is_operator("+-"):
            operator = self._advance().text
            node = self._make(Binary(operator, node, self._product()))
        return node

    def _product(self) -> Node:
        node = self._unary()
        while True:
            token = self._peek()
            if self._is_operator("*/"):
                self._advance()
                node = self._make(Binary(token.text, node, self._unary()))
            elif token.kind in (VARIABLE, CONSTANT, FUNCTION, OPEN, FRACTION, NUMBER):
                self._check_implicit(token)
                node = self._make(Binary("*", node, self._power()))  # 4a^3 is 4*(a^3)
            else:
                return node

    def _check_implicit(self, token: _Token) -> None:
        previous = self._previous()
        if token.kind == NUMBER and previous is not None and previous.kind == NUMBER:
            raise _error(self.text, f"missing operator before '{token.raw}'", token.position)

    def _unary(self) -> Node:
        """Signs bind looser than powers (-a^2 is -(a^2)); runs of signs are read in a loop."""
        negative = False
        while self._is_operator("+-"):
            negative ^= self._advance().text == "-"
        operand = self._power()
        return self._make(Negate(operand)) if negative else operand

    def _power(self) -> Node:
        base = self._primary()
        if not self._is_operator("^"):
            return base
        caret = self._advance()
        with self._nested(caret):
            exponent = self._unary()  # right-associative, and a^-1 is allowed
        if base == Constant("e"):
            return self._make(Call("exp", exponent))
        return self._make(Binary("^", base, exponent))

    def _primary(self) -> Node:
        token = self._peek()
        if token.kind == NUMBER:
            self._advance()
            return self._make(Number(token.value))
        if token.kind == VARIABLE:
            self._advance()
            return self._make(Variable(token.text))
        if token.kind == CONSTANT:
            self._advance()
            return self._make(Constant(token.text))
        if token.kind == FUNCTION:
            return self._call()
        if token.kind == OPEN:
            return self._group()
        if token.kind == FRACTION:
            return self._fraction()
        raise self._missing_operand(token)

    def _group(self) -> Node:
        opening = self._advance()
        if self._peek().kind == CLOSE:
            raise _error(self.text, "empty brackets", opening.position)
        with self._nested(opening):
            inner = self._sum()
        closing = self._peek()
        if closing.kind == CLOSE and closing.text == _OPENING[opening.text]:
            self._advance()
            return inner
        if closing.kind == CLOSE:
            message = f"'{opening.raw}' at position {opening.position} is closed by '{closing.raw}'"
            raise _error(self.text, message, closing.position)
        raise _error(self.text, f"'{opening.raw}' is never closed: opened", opening.position)

    def _call(self) -> Node:
        function = self._advance()
        following = self._peek()
        if function.text == "sqrt" and function.latex and following.text == "[":
            return self._latex_root()
        if following.kind != OPEN:
            if following.text == "^":
                message = f"write {function.raw}(...)^2 rather than {function.raw}^2(...)"
            else:
                message = (
                    f"`{function.raw}` needs its argument in brackets, like {function.raw}(...)"
                )
            raise _error(self.text, message, following.position)
        return self._make(Call(function.text, self._group()))

    def _latex_root(self) -> Node:
        """``\\sqrt[3]{x}`` is the cube root of x."""
        index = self._group()
        radicand = self._braced("\\sqrt[n]{...}")
        reciprocal = self._make(Binary("/", self._make(Number(1.0)), index))
        return self._make(Binary("^", radicand, reciprocal))

    def _fraction(self) -> Node:
        self._advance()
        numerator = self._braced("\\frac{...}{...}")
        denominator = self._braced("\\frac{...}{...}")
        return self._make(Binary("/", numerator, denominator))

    def _braced(self, usage: str) -> Node:
        token = self._peek()
        if token.kind != OPEN:
            raise _error(self.text, f"expected a group in braces, as in {usage},", token.position)
        return self._group()

    def _missing_operand(self, token: _Token) -> ExpressionError:
        previous = self._previous()
        if token.kind == END and previous is not None and previous.kind == OPERATOR:
            message = f"the answer ends with '{previous.raw}': something is missing after it"
            return _error(self.text, message, previous.position)
        if token.kind == END:
            return _error(self.text, "the answer ends too early", token.position)
        if token.kind == CLOSE and (previous is None or previous.kind != OPERATOR):
            return _error(self.text, f"unmatched '{token.raw}'", token.position)
        return _error(
            self.text,
            f"expected a number, {' or '.join(self.variables)}, a function or '(' but found "
            f"'{token.raw}'",
            token.position,
        )


def parse(text: str, variable: str | Sequence[str]) -> Node:
    """Read a formula in ``variable`` (or several variables); raises ExpressionError with a
    message for the student."""
    variables = as_variables(variable)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"answer is too long ({len(text)} characters; at most {MAX_LENGTH})", None
        )
    start, end = _body_span(text, variable)
    tokens = _Lexer(text, start, end, variables).run()
    return _Parser(text, tokens, variables).parse()


# --- Evaluating and rendering --------------------------------------------------------


def evaluate(node: Node, values: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
    """The formula at each point, as complex128; overflow and poles give inf/nan, not errors.

    ``values``: the one variable's values, or each variable's by name (equal shapes).
    """
    if isinstance(values, Mapping):
        points = {name: np.asarray(v, dtype=np.complex128) for name, v in values.items()}
        shape = next(iter(points.values())).shape
    else:
        single = np.asarray(values, dtype=np.complex128)
        # One variable: its values, whatever the variable is called.
        points, shape = defaultdict(lambda: single), single.shape
    with np.errstate(all="ignore"):
        return np.asarray(_evaluate(node, points, shape), dtype=np.complex128)


def _evaluate(node: Node, points: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    match node:
        case Number(value=value):
            return np.full(shape, value, dtype=np.complex128)
        case Variable(name=name):
            return points[name]
        case Constant(name=name):
            return np.full(shape, _CONSTANT_VALUES[name], dtype=np.complex128)
        case Negate(operand=operand):
            return -_evaluate(operand, points, shape)
        case Call(function=function, argument=argument):
            return _EVALUATORS[function](_evaluate(argument, points, shape)).astype(np.complex128)
        case Binary(operator=operator, left=left, right=right):
            return _apply(operator, _evaluate(left, points, shape), _evaluate(right, points, shape))
    raise TypeError(f"not an expression node: {node!r}")


def _apply(operator: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if operator == "/":
        return left / right
    return np.power(left, right)  # float exponents: no Python big-integer power, ever


_SUM, _PRODUCT, _SIGN, _POWER, _ATOM = range(1, 6)


def _precedence(node: Node) -> int:
    match node:
        case Binary(operator="+" | "-"):
            return _SUM
        case Binary(operator="*" | "/"):
            return _PRODUCT
        case Binary():
            return _POWER
        case Negate():
            return _SIGN
    return _ATOM


def _literal(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def names_in(node: Node) -> list[str]:
    """The variables a formula uses, in order of appearance."""
    found: list[str] = []
    stack = [node]
    while stack:
        match stack.pop():
            case Variable(name=name) if name not in found:
                found.append(name)
            case Negate(operand=operand) | Call(argument=operand):
                stack.append(operand)
            case Binary(left=left, right=right):
                stack.extend((right, left))
    return found


def render(node: Node) -> str:
    """Normalized text such as ``4*a^3*exp(a^4 + 1)``: shows the student how we read them."""
    match node:
        case Number(value=value):
            return _literal(value)
        case Variable(name=name) | Constant(name=name):
            return name
        case Negate(operand=operand):
            return "-" + _wrap(operand, _precedence(operand) < _SIGN)
        case Call(function=function, argument=argument):
            return f"{function}({render(argument)})"
        case Binary(operator=operator, left=left, right=right):
            return _render_binary(operator, left, right)
    raise TypeError(f"not an expression node: {node!r}")


def _render_binary(operator: str, left: Node, right: Node) -> str:
    left_prec, right_prec = _precedence(left), _precedence(right)
    signed = isinstance(right, Negate)
    if operator in "+-":
        right_text = _wrap(right, signed or (operator == "-" and right_prec == _SUM))
        return f"{render(left)} {operator} {right_text}"
    if operator in "*/":
        left_text = _wrap(left, left_prec < _PRODUCT)
        return f"{left_text}{operator}{_wrap(right, signed or right_prec <= _PRODUCT)}"
    return f"{_wrap(left, left_prec < _ATOM)}^{_wrap(right, right_prec < _ATOM)}"


def _wrap(node: Node, brackets: bool) -> str:
    text = render(node)
    return f"({text})" if brackets else text


# --- Grading -------------------------------------------------------------------------

_FIXED_FRACTIONS = (0.62, 0.31, 0.87, 0.12)  # inside the domain, away from its integers


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def mismatches(self, got: np.ndarray, want: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Points in ``where`` at which ``got`` is not finite or not close to ``want``."""
        with np.errstate(all="ignore"):
            gap = np.abs(got - want)
            close = np.isfinite(got) & (gap <= self.atol + self.rtol * np.abs(want))
        return where & ~close

    def agrees(self, got: np.ndarray, want: np.ndarray, where: np.ndarray) -> bool:
        return not self.mismatches(got, want, where).any()


def _sample_points(
    domain: tuple[float, float], seed: int, points: int, turn: int = 0
) -> np.ndarray:
    """Fixed points first (they read well in feedback), then seeded random ones.

    All are rounded to a few significant digits of the domain's width, so the point
    quoted in feedback is exactly the point that was evaluated. ``turn`` rotates the fixed
    fractions, so that the second variable's fixed points are not the first's (on x = y,
    2x + 2y and 4x agree).
    """
    low, high = domain
    decimals = max(0, 3 - int(np.floor(np.log10(high - low))))
    fractions = _FIXED_FRACTIONS[turn:] + _FIXED_FRACTIONS[:turn]
    fixed = np.round([low + f * (high - low) for f in fractions], decimals - 1)
    rng = np.random.default_rng(seed)
    return np.concatenate([fixed, np.round(rng.uniform(low, high, points), decimals)])


def sample(
    domains: Mapping[str, tuple[float, float]], seed: int, points: int
) -> dict[str, np.ndarray]:
    """Each variable's sample points (independent draws, one stream per variable)."""
    return {
        name: _sample_points(domain, seed + turn, points, turn % len(_FIXED_FRACTIONS))
        for turn, (name, domain) in enumerate(domains.items())
    }


def where_phrase(samples: Mapping[str, np.ndarray], index: int) -> str:
    """``x = 0.48, y = -0.76``: the point quoted in feedback."""
    return ", ".join(f"{name} = {values[index].real:g}" for name, values in samples.items())


def _format_value(value: complex, digits: int) -> str:
    if not np.isfinite(value):
        return "undefined (nan)" if np.isnan(value) else "infinite"
    real, imag = value.real, value.imag
    if abs(imag) <= 1e-12 * max(1.0, abs(real)):
        return f"{real:.{digits}g}"
    return f"{real:.{digits}g}{imag:+.{digits}g}i"


def _format_pair(first: complex, second: complex) -> tuple[str, str]:
    """Both values, with just enough significant digits (4 or more) to tell them apart."""
    for digits in range(4, 16):
        shown = _format_value(first, digits), _format_value(second, digits)
        if shown[0] != shown[1]:
            return shown
    return shown


def _describe(answer: object) -> str:
    """What kind of value arrived instead of a formula, in the student's terms."""
    if isinstance(answer, bool):
        return f"the boolean {answer}"
    if isinstance(answer, int | float | complex | np.number):
        return f"the number {answer}"
    if isinstance(answer, np.ndarray):
        return f"a numpy array of shape {answer.shape}"
    if isinstance(answer, list | tuple):
        return f"a {type(answer).__name__} of {len(answer)} items"
    if isinstance(answer, Opaque):
        summary = f" ({answer.summary})" if answer.summary else ""
        return f"a {answer.type_name}{summary}"
    if isinstance(answer, CallFailure):
        return f"an error ({answer.exception}: {answer.message})"
    return f"a value of type {type(answer).__name__}"


def _is_missing(answer: object, variable: str | Sequence[str]) -> bool:
    if answer is None or isinstance(answer, Placeholder):
        return True
    if isinstance(answer, SymbolicText | str):
        text = answer.text if isinstance(answer, SymbolicText) else answer
        if len(text) > MAX_LENGTH:
            return False
        start, end = _body_span(text, variable)
        return text[start:end] in ("", "...", "…")
    return False


def _relation(got: np.ndarray, want: np.ndarray, where: np.ndarray, tolerance: Tolerance) -> str:
    """A simple relation between the answer and the reference, or "" if there is none."""
    if tolerance.agrees(got, -want, where):
        return "your answer is the negative of the derivative everywhere (a sign error)."
    if tolerance.agrees(got, np.zeros_like(want), where):
        return "your expression is 0 everywhere."
    usable = where & (np.abs(want) > tolerance.atol)
    if usable.any():
        factor = float(np.median((got[usable] / want[usable]).real))
        if np.isfinite(factor) and tolerance.agrees(got, factor * want, where):
            shown = _format_pair(factor, 1.0)[0]
            return f"your answer is off by a constant factor of {shown} everywhere."
    offset = float(np.median((got[where] - want[where]).real))
    if np.isfinite(offset) and tolerance.agrees(got, want + offset, where):
        shown = _format_pair(offset, 0.0)[0]
        return f"your answer differs from the derivative by a constant ({shown}) everywhere."
    return ""


def _evidence(
    got: np.ndarray,
    want: np.ndarray,
    where: np.ndarray,
    samples: Mapping[str, np.ndarray],
    tolerance: Tolerance,
) -> str:
    """A point where the answer and the reference differ, clearly if possible.

    The fixed points come first and read best; a point where the two differ by at least
    1% is preferred, so the quoted numbers do not look nearly equal.
    """
    mismatched = tolerance.mismatches(got, want, where)
    relative = np.abs(got - want) / np.maximum(np.abs(want), tolerance.atol)
    clear = mismatched & ~(relative < 0.01)  # a non-finite answer counts as clearly different
    index = int(np.argmax(clear if clear.any() else mismatched))
    shown_got, shown_want = _format_pair(got[index], want[index])
    return (
        f"at {where_phrase(samples, index)} your expression gives {shown_got}, "
        f"the derivative there is {shown_want}."
    )


def read_formula(name: str, answer: object, variables: Sequence[str]) -> Node | Comparison:
    """The student's formula as a tree, or the Comparison that explains why there is none
    (no answer yet, not a formula, unreadable). Never raises."""
    wanted = listing(variables)
    if _is_missing(answer, variables):
        return Comparison(
            passed=False,
            feedback=f"No answer yet: write {name} as an expression in {wanted}.",
            attempted=False,
        )
    if not isinstance(answer, str | SymbolicText):
        first = variables[0]
        example = f'"3*{first}^2*sin({first})"'
        return Comparison(
            passed=False,
            feedback=(
                f"{name} should be an expression in {wanted} (as text such as {example} "
                f"or a sympy expression), but it is {_describe(answer)}."
            ),
        )
    text = answer.text if isinstance(answer, SymbolicText) else answer
    try:
        return parse(text, variables)
    except ExpressionError as error:
        return Comparison(passed=False, feedback=f"Could not read {name}: {error.message}")


def compare_expression(
    name: str,
    answer: object,
    reference: str,
    *,
    variable: str | None = None,
    mistakes: Sequence[ExpressionMistake] = (),
    domain: tuple[float, float] = (-1.5, 1.5),
    domains: Mapping[str, tuple[float, float]] | None = None,
    others: Mapping[str, str] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = 0,
    points: int = 60,
) -> Comparison:
    """Grade a typed or sympy formula against a trusted reference formula, numerically.

    A formula in one ``variable`` sampled on ``domain``, or in several, each sampled on its
    own of ``domains``. ``others``: the reference formulas of the exercise's other formula
    checks, by name, to recognise two answers given in each other's place. The reference
    and mistakes are trusted (a bad one raises ExpressionError); the answer never raises:
    every problem with it becomes feedback.
    """
    if domains is None:
        assert variable is not None, "a variable or domains"
        domains = {variable: domain}
    variables = list(domains)
    student = read_formula(name, answer, variables)
    if isinstance(student, Comparison):
        return student

    samples = sample(domains, seed, points)
    want = evaluate(parse(reference, variables), samples)
    got = evaluate(student, samples)
    where = np.isfinite(want)
    tolerance = Tolerance(rtol, atol)
    reading = render(student)
    if tolerance.agrees(got, want, where):
        return Comparison(passed=True, feedback=f"Correct: {name} = {reading}.")

    note = f" We read your answer as {reading}; if you meant something else, check the brackets."
    for mistake in mistakes:
        if tolerance.agrees(got, evaluate(parse(mistake.expression, variables), samples), where):
            return Comparison(
                passed=False, feedback=mistake.feedback.strip() + note, misconception=mistake.id
            )
    for other, formula in (others or {}).items():
        if tolerance.agrees(got, evaluate(parse(formula, variables), samples), where):
            return Comparison(
                passed=False,
                feedback=(
                    f"{name} is what {other} should be: are the two answers swapped? Give "
                    f"each under its own name.{note}"
                ),
                misconception="answers_swapped",
            )
    with np.errstate(all="ignore"):  # ratios and offsets of inf/nan values are expected
        diagnosis = _relation(got, want, where, tolerance) or _evidence(
            got, want, where, samples, tolerance
        )
    return Comparison(passed=False, feedback=f"Not quite: {diagnosis}{note}")

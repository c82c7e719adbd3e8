"""Reading a typed formula's characters: the vocabulary and the lexer.

The lexer turns the text (plain, unicode or a LaTeX subset) into tokens whose positions
index the original text, so every error can point at what the student typed. Words that
ask the computer to do the work (``diff``), code and other variables are refused here with
a message that says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .tree import EVALUATORS, MAX_DIGITS, ExpressionError

# --- Vocabulary ----------------------------------------------------------------------

# Spellings (looked up in lower case, so sympy's ``Abs`` works) -> canonical name.
_FUNCTIONS = {name: name for name in EVALUATORS} | {
    "log": "ln",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
}

_CONSTANTS = {"e": "e", "E": "e", "pi": "pi", "Pi": "pi", "PI": "pi", "π": "pi", "ℯ": "e"}

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
OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = set(OPENING.values())
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
class Token:
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


def positioned_error(text: str, message: str, position: int) -> ExpressionError:
    """A positional error whose message shows where in the answer it happened."""
    return ExpressionError(f"{message} at position {position}:{_pointer(text, position)}", position)


class Lexer:
    """Turns ``text[start:end]`` into tokens whose positions index the original text."""

    def __init__(self, text: str, start: int, end: int, variables: Sequence[str]) -> None:
        self.text = text
        self.pos = start
        self.end = end
        self.variables = tuple(variables)
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        while self.pos < self.end:
            self._step()
        self.tokens.append(Token(END, "", self.end, ""))
        return self.tokens

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < self.end else ""

    def _emit(
        self, kind: str, text: str, length: int, value: float = 0.0, latex: bool = False
    ) -> None:
        raw = self.text[self.pos : self.pos + length]
        self.tokens.append(Token(kind, text, self.pos, raw, value, latex))
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
        elif char in OPENING:
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
            raise positioned_error(
                self.text, f"number too long (more than {MAX_DIGITS} digits)", self.pos
            )
        if self.pos + len(literal) < self.end and self.text[self.pos + len(literal)] == ".":
            raise positioned_error(self.text, "malformed number", self.pos)
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
            raise positioned_error(self.text, f"unknown name '{word}'", position)
        self.tokens.extend(pieces)

    def _name_token(self, word: str, position: int, latex: bool) -> Token | None:
        if word in self.variables:
            return Token(VARIABLE, word, position, word)
        if word in _CONSTANTS:
            return Token(CONSTANT, _CONSTANTS[word], position, word)
        if word.lower() in _FUNCTIONS:
            return Token(FUNCTION, _FUNCTIONS[word.lower()], position, word, latex=latex)
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
                f"{variables_phrase(self.variables)}; your answer uses {word} "
                f"(at position {position})"
            )
        else:
            return
        raise ExpressionError(message, position)

    def _split(self, word: str, position: int) -> list[Token] | None:
        """Read letters written together (``ae`` is a*e, ``aexp`` is a*exp), or None."""
        pieces: list[Token] = []
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
        exponent = Lexer(translated, start, self.pos, self.variables).run()[:-1]
        first, last = self.text[start], self.text[self.pos - 1]
        self.tokens.append(Token(OPERATOR, "^", start, first))
        self.tokens.append(Token(OPEN, "(", start, first))
        self.tokens.extend(exponent)
        self.tokens.append(Token(CLOSE, ")", self.pos - 1, last))

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
            raise positioned_error(self.text, "unexpected backslash", self.pos)

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
            raise positioned_error(self.text, f"unknown LaTeX command \\{command}", self.pos)

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
        return positioned_error(self.text, message, position)


# --- Parsing -------------------------------------------------------------------------


def as_variables(variable: str | Sequence[str]) -> tuple[str, ...]:
    """One variable's name, or several, as a tuple."""
    return (variable,) if isinstance(variable, str) else tuple(variable)


def listing(names: Sequence[str]) -> str:
    """``t``, ``x and y``, ``x, y and z``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def variables_phrase(variables: Sequence[str]) -> str:
    if len(variables) == 1:
        return f"this exercise's variable is {variables[0]}"
    return f"this exercise's variables are {listing(variables)}"


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


def body_span(text: str, variable: str | Sequence[str]) -> tuple[int, int]:
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

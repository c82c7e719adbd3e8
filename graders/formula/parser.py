"""The recursive-descent parser of typed formulas, with hard bounds on size and nesting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .lexer import (
    CLOSE,
    CONSTANT,
    END,
    FRACTION,
    FUNCTION,
    NUMBER,
    OPEN,
    OPENING,
    OPERATOR,
    VARIABLE,
    Lexer,
    Token,
    as_variables,
    body_span,
    positioned_error,
)
from .tree import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    Binary,
    Call,
    Constant,
    ExpressionError,
    Negate,
    Node,
    Number,
    Variable,
)


class _Parser:
    """Recursive descent over the tokens; counts nodes and nesting so both stay bounded."""

    def __init__(self, text: str, tokens: list[Token], variables: tuple[str, ...]) -> None:
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
            raise positioned_error(self.text, f"unmatched '{token.raw}'", token.position)
        return node

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _previous(self) -> Token | None:
        return self.tokens[self.index - 1] if self.index else None

    def _advance(self) -> Token:
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
    def _nested(self, token: Token) -> Iterator[None]:
        """Brackets and exponents nest; the limit keeps recursion far from Python's own."""
        if self.depth >= MAX_DEPTH:
            message = f"brackets or powers nested too deeply (over {MAX_DEPTH} levels)"
            raise positioned_error(self.text, message, token.position)
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

    def _check_implicit(self, token: Token) -> None:
        previous = self._previous()
        if token.kind == NUMBER and previous is not None and previous.kind == NUMBER:
            raise positioned_error(
                self.text, f"missing operator before '{token.raw}'", token.position
            )

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
            raise positioned_error(self.text, "empty brackets", opening.position)
        with self._nested(opening):
            inner = self._sum()
        closing = self._peek()
        if closing.kind == CLOSE and closing.text == OPENING[opening.text]:
            self._advance()
            return inner
        if closing.kind == CLOSE:
            message = f"'{opening.raw}' at position {opening.position} is closed by '{closing.raw}'"
            raise positioned_error(self.text, message, closing.position)
        raise positioned_error(
            self.text, f"'{opening.raw}' is never closed: opened", opening.position
        )

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
            raise positioned_error(self.text, message, following.position)
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
            raise positioned_error(
                self.text, f"expected a group in braces, as in {usage},", token.position
            )
        return self._group()

    def _missing_operand(self, token: Token) -> ExpressionError:
        previous = self._previous()
        if token.kind == END and previous is not None and previous.kind == OPERATOR:
            message = f"the answer ends with '{previous.raw}': something is missing after it"
            return positioned_error(self.text, message, previous.position)
        if token.kind == END:
            return positioned_error(self.text, "the answer ends too early", token.position)
        if token.kind == CLOSE and (previous is None or previous.kind != OPERATOR):
            return positioned_error(self.text, f"unmatched '{token.raw}'", token.position)
        return positioned_error(
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
    start, end = body_span(text, variable)
    tokens = Lexer(text, start, end, variables).run()
    return _Parser(text, tokens, variables).parse()

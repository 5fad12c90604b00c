"""FQL syntax: the tokenizer, the typed AST and the recursive-descent parser.

Grammar (lowest precedence first; keywords are lowercase, as in Segment's docs):

    query      = or_expr END
    or_expr    = and_expr { "or" and_expr }
    and_expr   = not_expr { "and" not_expr }
    not_expr   = ( "!" | "not" ) not_expr | comparison
    comparison = operand [ ( "=" | "!=" | "<" | "<=" | ">" | ">=" | "in" ) operand ]
    operand    = STRING | NUMBER | "true" | "false" | "null" | PATH
               | NAME "(" [ operand { "," operand } ] ")"
               | "[" [ operand { "," operand } ] "]"
               | "(" or_expr ")"

A PATH is dot-separated names of `a-z A-Z 0-9 _ -`; other characters take a backslash
(`properties.product\\ 1.price`), as Segment documents. Strings take '...' or "...". A bare operand
used as a condition must be able to be true (a field, `true`, a bool function): `length(x)` alone
is rejected rather than silently never true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

from seamline.errors import InvalidInput

# name -> (arity, what it returns); the implementations live in `fql.py`.
FUNCTIONS: dict[str, tuple[int, str]] = {
    "bool": (1, "bool"),
    "contains": (2, "bool"),
    "kebabcase": (1, "string"),
    "length": (1, "number"),
    "lowercase": (1, "string"),
    "match": (2, "bool"),
    "number": (1, "number"),
    "snakecase": (1, "string"),
    "string": (1, "string"),
    "titlecase": (1, "string"),
    "typeof": (1, "string"),
    "uppercase": (1, "string"),
}
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in"})

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_NAME_START = _NAME_CHARS - frozenset("0123456789-") | {"\\"}
_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_STRING_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_PUNCTUATION = frozenset("()[],")
_DIGITS = frozenset("0123456789")


class FQLError(InvalidInput):
    """A query that is not valid FQL; the message names what was expected and the column."""

    code = "invalid_fql"

    def __init__(self, problem: str, position: int, query: str, *, got: str = "") -> None:
        message = f"{problem} at column {position + 1}" + (f", got {got}" if got else "")
        super().__init__(message, details={"position": position, "query": query})
        self.position = position


# --- AST. `pos` is the 0-based offset of the node's first character; it is not part of equality
# so tests and tools can compare trees without counting columns.


@dataclass(frozen=True, slots=True)
class Path:
    keys: tuple[str, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool | None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


Node: TypeAlias = Path | Literal | ListLiteral | Call | Compare | Not | And | Or


class Token(NamedTuple):
    kind: str  # "path", "string", "number", "end", a keyword, an operator or a punctuation mark
    value: Any
    pos: int
    text: str


def tokenize(query: str) -> list[Token]:
    """Split `query` into tokens ending with an "end" token; raise FQLError on a bad character."""
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in " \t\r\n":
            i += 1
        elif c in _NAME_START:
            i = _path(query, i, tokens)
        elif c in "'\"":
            i = _string(query, i, tokens)
        elif c in _DIGITS or (c in "-+" and query[i + 1 : i + 2] in _DIGITS):
            m = _NUMBER.match(query, i)
            end = m.end() if m else i + 1
            text = query[i:end]
            try:
                value = int(text) if m and not (m.group(1) or m.group(2)) else float(text)
            except ValueError:  # over the 4300 digits int() accepts
                raise FQLError("invalid number", i, query, got="too many digits") from None
            if end < n and (query[end] in _NAME_CHARS or query[end] == "."):
                raise FQLError("invalid number", i, query, got=repr(query[i : end + 1]))
            tokens.append(Token("number", value, i, text))
            i = end
        elif c in "=<>!":
            if query[i : i + 2] == "==":
                raise FQLError(
                    "expected '=' (FQL compares with a single '=')", i, query, got="'=='"
                )
            op = query[i : i + 2] if query[i + 1 : i + 2] == "=" else c
            tokens.append(Token(op, op, i, op))
            i += len(op)
        elif c in _PUNCTUATION:
            tokens.append(Token(c, c, i, c))
            i += 1
        else:
            raise FQLError(f"unexpected character {c!r}", i, query)
    tokens.append(Token("end", None, n, ""))
    return tokens


def _path(query: str, start: int, tokens: list[Token]) -> int:
    """Lex a dotted path (or a keyword, or a function name) starting at `start`."""
    keys: list[str] = []
    escaped = False
    i, n = start, len(query)
    while True:
        chars: list[str] = []
        while i < n and (query[i] in _NAME_CHARS or query[i] == "\\"):
            if query[i] == "\\":
                if i + 1 == n:
                    raise FQLError("expected a character after '\\'", i + 1, query)
                escaped = True
                i += 1
            chars.append(query[i])
            i += 1
        if not chars:
            raise FQLError("expected a field name after '.'", i, query, got=_char(query, i))
        keys.append("".join(chars))
        if i < n and query[i] == ".":
            i += 1
            continue
        break
    text = query[start:i]
    if len(keys) == 1 and not escaped and keys[0] in KEYWORDS:
        tokens.append(Token(keys[0], keys[0], start, text))
    else:
        tokens.append(Token("path", tuple(keys), start, text))
    return i


def _string(query: str, start: int, tokens: list[Token]) -> int:
    # Unknown escapes keep their backslash, so glob escapes like `\\*` reach match() unchanged.
    quote = query[start]
    chars: list[str] = []
    i, n = start + 1, len(query)
    while i < n and query[i] != quote:
        c = query[i]
        if c == "\\" and i + 1 < n:
            nxt = query[i + 1]
            chars.append(_STRING_ESCAPES.get(nxt, c + nxt))
            i += 2
        else:
            chars.append(c)
            i += 1
    if i >= n:
        raise FQLError("unterminated string", start, query)
    tokens.append(Token("string", "".join(chars), start, query[start : i + 1]))
    return i + 1


def _char(query: str, i: int) -> str:
    return repr(query[i]) if i < len(query) else "the end of the query"


def _describe(token: Token) -> str:
    """How an error message names a token."""
    text = token.text if len(token.text) <= 30 else token.text[:27] + "..."
    if token.kind == "end":
        return "the end of the query"
    if token.kind == "path":
        hint = " (keywords are lowercase)" if token.text.lower() in KEYWORDS else ""
        return f"the field {text}{hint}"
    if token.kind in ("string", "number"):
        return f"the {token.kind} {text}"
    return f"'{text}'"


def _not_a_condition(node: Node) -> str:
    """How an error names a node that can never be true, or "" if it can be."""
    match node:
        case Literal(value=None):
            return "null"
        case Literal(value=str()):
            return "a string"
        case Literal(value=int() | float()) if not isinstance(node.value, bool):
            return "a number"
        case ListLiteral():
            return "a list"
        case Call(name=name) if FUNCTIONS[name][1] != "bool":
            return f"{name}(), which returns a {FUNCTIONS[name][1]}"
    return ""


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def fail(self, expected: str, token: Token) -> FQLError:
        return FQLError(expected, token.pos, self.query, got=_describe(token))

    def query_(self) -> Node:
        if self.peek().kind == "end":
            raise FQLError("empty query, expected a condition", 0, self.query)
        node = self.or_()
        if self.peek().kind != "end":
            raise self.fail("expected 'and', 'or' or the end of the query", self.peek())
        return node

    def or_(self) -> Node:
        terms = [self.and_()]
        while self.peek().kind == "or":
            self.take()
            terms.append(self.and_())
        return terms[0] if len(terms) == 1 else Or(tuple(terms), terms[0].pos)

    def and_(self) -> Node:
        terms = [self.not_()]
        while self.peek().kind == "and":
            self.take()
            terms.append(self.not_())
        return terms[0] if len(terms) == 1 else And(tuple(terms), terms[0].pos)

    def not_(self, expected: str = "expected a condition") -> Node:
        if self.peek().kind in ("!", "not"):
            token = self.take()
            return Not(self.not_(f"expected a condition after '{token.text}'"), token.pos)
        left = self.operand(expected)
        if self.peek().kind in COMPARISONS:
            op = self.take()
            right = self.operand(f"expected a value after '{op.text}'")
            return Compare(op.kind, left, right, left.pos)
        if got := _not_a_condition(left):
            raise FQLError(
                "expected a condition (a comparison, a true/false field or a bool function)",
                left.pos,
                self.query,
                got=got,
            )
        return left

    def operand(self, expected: str) -> Node:
        token = self.take()
        kind = token.kind
        if kind in ("string", "number"):
            return Literal(token.value, token.pos)
        if kind in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[kind], token.pos)
        if kind == "path":
            if self.peek().kind == "(":
                return self.call(token)
            return Path(token.value, token.pos)
        if kind == "[":
            return ListLiteral(self.items("]", "a list"), token.pos)
        if kind == "(":
            inner = self.or_()
            if self.peek().kind != ")":
                raise self.fail(
                    f"expected ')' to close '(' from column {token.pos + 1}", self.peek()
                )
            self.take()
            return inner
        raise self.fail(expected, token)

    def call(self, name_token: Token) -> Node:
        name = ".".join(name_token.value)
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise FQLError(
                f"unknown function '{name}' (known: {known})", name_token.pos, self.query
            )
        self.take()  # "("
        args = self.items(")", f"{name}()")
        arity = FUNCTIONS[name][0]
        if len(args) != arity:
            raise FQLError(
                f"{name}() takes {arity} argument{'s' * (arity != 1)}",
                name_token.pos,
                self.query,
                got=str(len(args)),
            )
        if name == "match" and isinstance(args[1], Literal) and isinstance(args[1].value, str):
            try:
                glob_regex(args[1].value)
            except ValueError as exc:
                raise FQLError(f"invalid match() pattern: {exc}", args[1].pos, self.query) from None
        return Call(name, args, name_token.pos)

    def items(self, close: str, what: str) -> tuple[Node, ...]:
        """Comma-separated operands up to `close` (the opening bracket is already taken)."""
        items: list[Node] = []
        if self.peek().kind == close:
            self.take()
            return ()
        while True:
            items.append(self.operand(f"expected a value in {what}"))
            token = self.take()
            if token.kind == close:
                return tuple(items)
            if token.kind != ",":
                raise self.fail(f"expected ',' or '{close}' in {what}", token)


def glob_regex(pattern: str) -> str:
    """Translate a match() glob (`*`, `?`, `[abc]`, `[a-z]`, `[^a-z]`, `\\x`) into a regex for
    `fullmatch` with DOTALL; raise ValueError if it is malformed.

    Each middle `*x` becomes an atomic `(?>.*?x)`: `*`-free pieces match a fixed number of
    characters, so taking each one leftmost is always right, and forbidding backtracking keeps
    matching linear. The plain translation (`.*a.*a.*b`) backtracks polynomially on long event
    strings, which are untrusted input.
    """
    pieces = [""]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            pieces.append("")
            i += 1
        elif c == "?":
            pieces[-1] += "."
            i += 1
        elif c == "[":
            unit, i = _glob_class(pattern, i)
            pieces[-1] += unit
        else:
            char, i = _glob_char(pattern, i)
            pieces[-1] += re.escape(char)
    if len(pieces) == 1:
        return pieces[0]
    middle = "".join(f"(?>.*?{piece})" for piece in pieces[1:-1] if piece)
    return f"{pieces[0]}{middle}.*{pieces[-1]}"


def _glob_char(pattern: str, i: int) -> tuple[str, int]:
    if pattern[i] != "\\":
        return pattern[i], i + 1
    if i + 1 == len(pattern):
        raise ValueError("it ends with a lone '\\'")
    return pattern[i + 1], i + 2


def _glob_class(pattern: str, start: int) -> tuple[str, int]:
    i, n = start + 1, len(pattern)
    negate = i < n and pattern[i] == "^"
    i += negate
    parts: list[str] = []
    while i < n and pattern[i] != "]":
        low, i = _glob_char(pattern, i)
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            high, i = _glob_char(pattern, i + 1)
            if low > high:
                raise ValueError(f"the range '{low}-{high}' is reversed")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
        else:
            parts.append(re.escape(low))
    if i >= n:
        raise ValueError(f"the '[' at offset {start} is not closed")
    if not parts:
        raise ValueError("'[]' matches nothing")
    return "[" + "^" * negate + "".join(parts) + "]", i + 1


def parse_fql(query: str) -> Node:
    """Parse an FQL query into its AST; raise FQLError (with the column) if it is not valid."""
    return _Parser(query).query_()

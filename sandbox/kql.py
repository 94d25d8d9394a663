"""The subset of Kusto (KQL) that the Resource Graph emulator answers: what jitbot sends, checked like Azure would.

Tabular operators: ``where``, ``project``, ``extend``, ``mv-expand name = expr``, ``join kind=leftouter|inner
(subquery) on col[, col]``, ``take``/``limit``, ``order by``/``sort by col [asc|desc]``. Scalars: string, number
and boolean literals, column paths (``properties.a.b``, ``x[0]``), ``==``, ``!=``, ``=~``, ``!~``, ``in``, ``in~``,
``!in``, ``!in~``, ``contains``, ``startswith``, ``and``, ``or``, ``not()``, and the functions ``tostring``,
``tolower``, ``toupper``, ``isnotempty``, ``isempty``. Anything else is a syntax error, which Resource Graph answers
with a 400 ``BadRequest`` naming the problem (see ``sandbox.arm_graph``).

Semantics follow the Kusto documentation: ``=~``/``in~`` compare case-insensitively, a missing property is null,
``tostring(null)`` is the empty string, the right side's columns whose names clash get the suffix ``1`` in a join,
and ``order by`` sorts descending unless told ``asc``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Table = list[Row]


class KqlError(ValueError):
    """The query is outside the subset or malformed; the message says where."""


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<op>=~|!~|==|!=|<=|>=|in~|!in~|!in|mv-expand|[|(),.=\[\]<>])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Token:
    """One lexeme: its kind (string, number, op, name) and its text (strings unquoted)."""

    kind: str
    text: str


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; an unknown character is a KqlError."""
    tokens: list[Token] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        found = _TOKEN.match(query, position)
        if found is None or found.end() == position:
            raise KqlError(f"Unexpected character at position {position}: {query[position : position + 10]!r}")
        kind = found.lastgroup or "op"
        text = found.group(kind)
        if kind == "string":
            text = json.loads('"' + text[1:-1].replace('"', '\\"').replace("\\'", "'") + '"')
        tokens.append(Token(kind, text))
        position = found.end()
    return tokens


Expr = Callable[[Row], Any]
Types = frozenset[str] | None
Source = Callable[[Types], Table]
"""The table's rows; given the lower-cased resource types a query starts by keeping, it may return only those."""


@dataclass(frozen=True)
class Plan:
    """A (sub)query: the types its first ``where`` keeps (None: any) and its stages."""

    types: Types
    stages: tuple[Stage, ...]


Stage = Callable[[Table, Source], Table]


class _Parser:
    def __init__(self, tokens: Sequence[Token]):
        self.tokens = list(tokens)
        self.at = 0

    # -- token helpers -----------------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise KqlError("The query ended unexpectedly.")
        self.at += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind in ("op", "name") and token.text.lower() == text.lower():
            self.at += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            found = self.peek()
            raise KqlError(f"Expected '{text}' but found '{found.text if found else 'end of query'}'.")

    def name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise KqlError(f"Expected a name but found '{token.text}'.")
        return token.text

    # -- tabular -----------------------------------------------------------------------------------------

    def query(self) -> Plan:
        table = self.name()
        if table.lower() != "resources":
            raise KqlError(f"Table '{table}' is not served here; query 'Resources'.")
        types = self.leading_types()
        stages: list[Stage] = []
        while self.accept("|"):
            stages.append(self.stage())
        return Plan(types, tuple(stages))

    def leading_types(self) -> Types:
        """The types kept by a first ``| where type =~ 'x'`` or ``| where type in~ ('x', …)`` (then ``and`` or end)."""
        ahead = self.tokens[self.at : self.at + 4]
        texts = [token.text.lower() for token in ahead]
        if len(ahead) < 4 or texts[:2] != ["|", "where"] or texts[2] != "type":
            return None
        op = ahead[3].text.lower()
        rest = self.tokens[self.at + 4 :]
        if op in ("=~", "==") and rest and rest[0].kind == "string":
            after = rest[1:2]
            if after and after[0].text.lower() not in ("and", "|"):
                return None
            return frozenset({rest[0].text.lower()})
        if op in ("in~", "in") and rest and rest[0].text == "(":
            values: list[str] = []
            for index, token in enumerate(rest[1:], start=1):
                if token.text == ")":
                    after = rest[index + 1 : index + 2]
                    if after and after[0].text.lower() not in ("and", "|"):
                        return None
                    return frozenset(values)
                if token.kind == "string":
                    values.append(token.text.lower())
                elif token.text != ",":
                    return None
        return None

    def stage(self) -> Stage:
        token = self.take()
        word = token.text.lower()
        if word == "where":
            condition = self.expr()
            return lambda rows, _: [row for row in rows if _truthy(condition(row))]
        if word in ("project", "extend"):
            assignments = self.assignments(allow_bare=word == "project")
            if word == "project":
                return lambda rows, _: [{name: expr(row) for name, expr in assignments} for row in rows]
            return lambda rows, _: [{**row, **{name: expr(row) for name, expr in assignments}} for row in rows]
        if word == "mv-expand":
            name = self.name()
            self.expect("=")
            source = self.expr()
            return lambda rows, _: [{**row, name: item} for row in rows for item in _items(source(row))]
        if word in ("take", "limit"):
            count = self.take()
            if count.kind != "number":
                raise KqlError(f"'{word}' needs a number.")
            limit = int(count.text)
            return lambda rows, _: rows[:limit]
        if word in ("order", "sort"):
            self.expect("by")
            keys: list[tuple[Expr, bool]] = []
            while True:
                key = self.expr()
                descending = not self.accept("asc")
                if descending:
                    self.accept("desc")
                keys.append((key, descending))
                if not self.accept(","):
                    break
            return lambda rows, _: _ordered(rows, keys)
        if word == "join":
            return self.join()
        raise KqlError(f"The operator '{token.text}' is not supported here.")

    def join(self) -> Stage:
        kind = "innerunique"
        if self.accept("kind"):
            self.expect("=")
            kind = self.name().lower()
        if kind not in ("leftouter", "inner", "innerunique"):
            raise KqlError(f"join kind '{kind}' is not supported here.")
        self.expect("(")
        plan = self.query()
        self.expect(")")
        self.expect("on")
        keys = [self.name()]
        while self.accept(","):
            keys.append(self.name())

        def run(rows: Table, source: Source) -> Table:
            right = _run(source, plan)
            index: dict[tuple[Any, ...], list[Row]] = {}
            for row in right:
                index.setdefault(tuple(_key(row.get(k)) for k in keys), []).append(row)
            if kind == "innerunique":
                rows = _first_per_key(rows, keys)
            joined: Table = []
            for row in rows:
                matches = index.get(tuple(_key(row.get(k)) for k in keys), [])
                if not matches and kind == "leftouter":
                    joined.append(_merge(row, {k: None for k in (right[0] if right else {})}))
                joined.extend(_merge(row, match) for match in matches)
            return joined

        return run

    def assignments(self, *, allow_bare: bool) -> list[tuple[str, Expr]]:
        found: list[tuple[str, Expr]] = []
        while True:
            token = self.peek()
            after = self.peek(1)
            if token is not None and token.kind == "name" and after is not None and after.text == "=":
                name = self.name()
                self.expect("=")
                found.append((name, self.expr()))
            elif allow_bare:
                name = self.name()
                found.append((name, _column(name)))
            else:
                raise KqlError("extend needs 'name = expression'.")
            if not self.accept(","):
                return found

    # -- scalar ------------------------------------------------------------------------------------------

    def expr(self) -> Expr:
        left = self.conjunction()
        while self.accept("or"):
            left = _either(left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.comparison()
        while self.accept("and"):
            left = _both(left, self.comparison())
        return left

    def comparison(self) -> Expr:
        left = self.primary()
        token = self.peek()
        if token is None or token.kind not in ("op", "name"):
            return left
        op = token.text.lower()
        if op in ("in", "in~", "!in", "!in~"):
            self.at += 1
            values = self.literal_list()
            fold = op.endswith("~")
            wanted = {_fold(v) if fold else _key(v) for v in values}
            negate = op.startswith("!")
            return lambda row: ((_fold(left(row)) if fold else _key(left(row))) in wanted) != negate
        binary = _BINARY.get(op)
        if binary is None:
            return left
        self.at += 1
        right = self.primary()
        return lambda row: binary(left(row), right(row))

    def literal_list(self) -> list[Any]:
        self.expect("(")
        values: list[Any] = []
        while not self.accept(")"):
            token = self.take()
            if token.kind == "string":
                values.append(token.text)
            elif token.kind == "number":
                values.append(_number(token.text))
            else:
                raise KqlError(f"Only literals may appear in an 'in' list, not '{token.text}'.")
            self.accept(",")
        return values

    def primary(self) -> Expr:
        token = self.take()
        if token.kind == "string":
            text = token.text
            return lambda _: text
        if token.kind == "number":
            value = _number(token.text)
            return lambda _: value
        if token.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if token.kind != "name":
            raise KqlError(f"Unexpected '{token.text}'.")
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            flag = lowered == "true"
            return lambda _: flag
        if self.accept("("):
            return self.call(lowered)
        expr = _column(token.text)
        return self.path(expr)

    def path(self, expr: Expr) -> Expr:
        while True:
            if self.accept("."):
                expr = _member(expr, self.name())
            elif self.accept("["):
                index = self.take()
                self.expect("]")
                if index.kind == "number":
                    expr = _element(expr, int(index.text))
                elif index.kind == "string":
                    expr = _member(expr, index.text)
                else:
                    raise KqlError("An index must be a number or a string.")
            else:
                return expr

    def call(self, function: str) -> Expr:
        args: list[Expr] = []
        while not self.accept(")"):
            args.append(self.expr())
            self.accept(",")
        implementation = _FUNCTIONS.get(function)
        if implementation is None:
            raise KqlError(f"The function '{function}' is not supported here.")
        if len(args) != 1:
            raise KqlError(f"{function}() takes one argument.")
        (arg,) = args
        return lambda row: implementation(arg(row))


def _either(a: Expr, b: Expr) -> Expr:
    return lambda row: _truthy(a(row)) or _truthy(b(row))


def _both(a: Expr, b: Expr) -> Expr:
    return lambda row: _truthy(a(row)) and _truthy(b(row))


def _member(base: Expr, name: str) -> Expr:
    return lambda row: _field(base(row), name)


def _element(base: Expr, position: int) -> Expr:
    return lambda row: _index(base(row), position)


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _column(name: str) -> Expr:
    return lambda row: row.get(name)


def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        lowered = name.lower()
        return next((v for k, v in value.items() if k.lower() == lowered), None)
    return None


def _index(value: Any, position: int) -> Any:
    return value[position] if isinstance(value, list) and -len(value) <= position < len(value) else None


def _items(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [{k: v} for k, v in value.items()]
    return [] if value is None else [value]


def tostring(value: Any) -> str:
    """Kusto's tostring: null is '', strings stay, objects and arrays become compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == ""


_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "tostring": tostring,
    "tolower": lambda v: tostring(v).lower(),
    "toupper": lambda v: tostring(v).upper(),
    "isnotempty": lambda v: not _empty(v),
    "isempty": _empty,
    "not": lambda v: not _truthy(v),
}


def _key(value: Any) -> Any:
    return tostring(value) if isinstance(value, dict | list) else value


def _fold(value: Any) -> Any:
    return tostring(value).lower() if value is not None else None


def _equal(a: Any, b: Any) -> bool:
    return bool(_key(a) == _key(b))


def _equal_folded(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _fold(a) == _fold(b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "=~": _equal_folded,
    "!~": lambda a, b: not _equal_folded(a, b),
    "contains": lambda a, b: tostring(b).lower() in tostring(a).lower(),
    "startswith": lambda a, b: tostring(a).lower().startswith(tostring(b).lower()),
}


def _truthy(value: Any) -> bool:
    return value is True


def _merge(left: Row, right: Row) -> Row:
    merged = dict(left)
    for name, value in right.items():
        merged[f"{name}1" if name in left else name] = value
    return merged


def _first_per_key(rows: Table, keys: Sequence[str]) -> Table:
    seen: set[tuple[Any, ...]] = set()
    kept: Table = []
    for row in rows:
        key = tuple(_key(row.get(k)) for k in keys)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, tostring(value))


def _sorter(key: Expr) -> Callable[[Row], tuple[int, Any]]:
    return lambda row: _sort_key(key(row))


def _ordered(rows: Table, keys: Sequence[tuple[Expr, bool]]) -> Table:
    ordered = list(rows)
    for key, descending in reversed(keys):
        ordered.sort(key=_sorter(key), reverse=descending)
    return ordered


def _run(source: Source, plan: Plan) -> Table:
    rows = source(plan.types)
    for stage in plan.stages:
        rows = stage(rows, source)
    return rows


@dataclass(frozen=True)
class Query:
    """A parsed query: run it over a table (``source`` is called for the main table and for each join)."""

    plan: Plan

    def run(self, source: Source) -> Table:
        """The result rows."""
        return _run(source, self.plan)


def parse(text: str) -> Query:
    """Parse ``text``; raises KqlError for anything outside the subset."""
    parser = _Parser(tokenize(text))
    plan = parser.query()
    leftover = parser.peek()
    if leftover is not None:
        raise KqlError(f"Unexpected '{leftover.text}' after the end of the query.")
    return Query(plan)

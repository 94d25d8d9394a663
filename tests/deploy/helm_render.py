"""A strict renderer for the small Go-template subset the jitbot Helm chart uses.

Helm is not installable here, so the tests render the chart themselves. The subset: `{{ .Path }}`,
`$`/`$var` paths, string and number literals, pipelines with include, nindent, indent, toYaml, quote and
default, the comparisons and logic `int`, `gt`, `not`, `and`, `or` (with parenthesised arguments), `if`/`else`/
`end`, `range $k, $v := …`, `define`, `{{-`/`-}}` trimming and `{{/* comments */}}`. Numbers in the values are
float64 as in Helm (which reads values through JSON), so comparing one with an integer literal needs `int`.
Anything else, and any reference to a value that does not exist, raises — so a template that strays
outside what is checked here fails loudly instead of rendering something Helm would not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
WORD = re.compile(r'"(?:\\.|[^"\\])*"|[()]|[^\s()]+')
Item = str | list["Item"]


class TemplateError(ValueError):
    """The template uses something this renderer does not support, or references a missing value."""


@dataclass
class Text:
    """Literal template text, copied to the output."""

    text: str


@dataclass
class Action:
    """`{{ pipeline }}`: its value is printed."""

    pipeline: str


@dataclass
class If:
    """`{{ if }}`…`{{ else }}`…`{{ end }}`."""

    pipeline: str
    then: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)


@dataclass
class Range:
    """`{{ range $k, $v := pipeline }}`…`{{ end }}`, maps in sorted key order like Go."""

    key_var: str
    value_var: str
    pipeline: str
    body: list[Node] = field(default_factory=list)


Node = Text | Action | If | Range


def tokenize(source: str) -> list[tuple[str, str]]:
    """("text", …) and ("action", …) pairs with `{{-`/`-}}` whitespace trimming applied."""
    tokens: list[tuple[str, str]] = []
    position = 0
    trim_next = False
    for match in ACTION.finditer(source):
        text = source[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        tokens.append(("text", text))
        tokens.append(("action", match.group(2).strip()))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = source[position:]
    tokens.append(("text", tail.lstrip() if trim_next else tail))
    return tokens


def parse(source: str, defines: dict[str, list[Node]]) -> list[Node]:
    """Build the node tree; `define` blocks go to `defines` instead of the output."""
    root: list[Node] = []
    stack: list[tuple[str, list[Node], Any]] = [("root", root, None)]
    for kind, value in tokenize(source):
        current = stack[-1][1]
        if kind == "text":
            if value:
                current.append(Text(value))
            continue
        if value.startswith("/*"):
            continue
        keyword, _, rest = value.partition(" ")
        if keyword == "if":
            node = If(rest.strip())
            current.append(node)
            stack.append(("if", node.then, node))
        elif keyword == "else" and stack[-1][0] == "if" and not rest:
            node_if = stack[-1][2]
            stack[-1] = ("else", node_if.otherwise, node_if)
        elif keyword == "range":
            match = re.fullmatch(r"\$(\w+),\s*\$(\w+)\s*:=\s*(.+)", rest.strip())
            if not match:
                raise TemplateError(f"unsupported range: {value}")
            range_node = Range(match.group(1), match.group(2), match.group(3))
            current.append(range_node)
            stack.append(("range", range_node.body, range_node))
        elif keyword == "define":
            name = json.loads(rest.strip())
            body: list[Node] = []
            defines[name] = body
            stack.append(("define", body, None))
        elif keyword == "end":
            if len(stack) == 1:
                raise TemplateError("unbalanced end")
            stack.pop()
        elif keyword in {"with", "else", "block", "template", "break", "continue"}:
            raise TemplateError(f"unsupported action: {value}")
        else:
            current.append(Action(value))
    if len(stack) != 1:
        raise TemplateError(f"unclosed {stack[-1][0]}")
    return root


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings/collections are false."""
    return bool(value)


def to_yaml(value: Any) -> str:
    """Helm's toYaml: block style, sorted keys, no trailing newline."""
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")


def indent(width: int, text: str) -> str:
    """Sprig's indent: every line prefixed with `width` spaces."""
    pad = " " * width
    return "\n".join(pad + line for line in str(text).split("\n"))


def quote(value: Any) -> str:
    """Sprig's quote: a double-quoted string."""
    return json.dumps(render_scalar(value))


def render_scalar(value: Any) -> str:
    """How Go prints a value into the output; collections must go through toYaml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TemplateError(f"cannot print {type(value).__name__} directly: use toYaml")


def as_helm_values(value: Any) -> Any:
    """Values as Helm holds them: every number a float64 (Helm reads values.yaml through JSON)."""
    if isinstance(value, Mapping):
        return {key: as_helm_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_helm_values(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def greater(a: Any, b: Any) -> bool:
    """Go's `gt`: both operands of one basic kind, or an error (as Helm fails on float64 against an int)."""
    if type(a) is not type(b) or not isinstance(a, (int, float, str)):
        raise TemplateError(f"incompatible types for comparison: {type(a).__name__} and {type(b).__name__}")
    return bool(a > b)


def parse_command(command: str) -> list[Item]:
    """Words of one command, with parenthesised groups as nested lists."""
    stack: list[list[Item]] = [[]]
    for word in WORD.findall(command):
        if word == "(":
            stack.append([])
        elif word == ")":
            if len(stack) == 1:
                raise TemplateError(f"unbalanced ) in {command!r}")
            group = stack.pop()
            stack[-1].append(group)
        else:
            stack[-1].append(word)
    if len(stack) != 1:
        raise TemplateError(f"unclosed ( in {command!r}")
    return stack[0]


class Renderer:
    """Renders one chart directory with given values, the way `helm template` would for this subset."""

    def __init__(self, chart_dir: Path, values: Mapping[str, Any], release_name: str, namespace: str = "default"):
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
        self.root = {
            "Values": as_helm_values(values),
            "Release": {"Name": release_name, "Namespace": namespace, "Service": "Helm"},
            "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
        }
        self.defines: dict[str, list[Node]] = {}
        self.templates: dict[str, list[Node]] = {}
        for path in sorted((chart_dir / "templates").iterdir()):
            tree = parse(path.read_text(encoding="utf-8"), self.defines)
            if not path.name.startswith("_") and path.suffix in {".yaml", ".yml"}:
                self.templates[path.name] = tree
        self.functions: dict[str, Callable[..., Any]] = {
            "include": self._include,
            "nindent": lambda width, text: "\n" + indent(width, text),
            "indent": indent,
            "toYaml": to_yaml,
            "quote": quote,
            "default": lambda fallback, value: value if truthy(value) else fallback,
            "int": lambda value: int(value),
            "gt": greater,
            "not": lambda value: not truthy(value),
            "and": lambda *values: next((v for v in values if not truthy(v)), values[-1]),
            "or": lambda *values: next((v for v in values if truthy(v)), values[-1]),
        }

    def render(self) -> dict[str, str]:
        """Template file name -> rendered text."""
        return {name: self._run(tree, self.root, {"": self.root}) for name, tree in self.templates.items()}

    def documents(self) -> list[dict[str, Any]]:
        """Every non-empty YAML document the chart produces."""
        docs: list[dict[str, Any]] = []
        for text in self.render().values():
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return docs

    def _include(self, name: str, dot: Any) -> str:
        if name not in self.defines:
            raise TemplateError(f"include of undefined template {name!r}")
        return self._run(self.defines[name], dot, {"": self.root})

    def _run(self, nodes: list[Node], dot: Any, variables: dict[str, Any]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                out.append(render_scalar(self._pipeline(node.pipeline, dot, variables)))
            elif isinstance(node, If):
                branch = node.then if truthy(self._pipeline(node.pipeline, dot, variables)) else node.otherwise
                out.append(self._run(branch, dot, variables))
            else:
                collection = self._pipeline(node.pipeline, dot, variables)
                items = sorted(collection.items()) if isinstance(collection, Mapping) else enumerate(collection)
                for key, value in items:
                    out.append(self._run(node.body, dot, {**variables, node.key_var: key, node.value_var: value}))
        return "".join(out)

    def _pipeline(self, pipeline: str, dot: Any, variables: dict[str, Any]) -> Any:
        result: Any = None
        for index, command in enumerate(part.strip() for part in pipeline.split("|")):
            items = parse_command(command)
            if not items:
                raise TemplateError(f"empty command in {pipeline!r}")
            result = self._command(items, dot, variables, [result] if index else [])
        return result

    def _command(self, items: list[Item], dot: Any, variables: dict[str, Any], piped: list[Any]) -> Any:
        head, rest = items[0], items[1:]
        if isinstance(head, str) and head in self.functions:
            args = [self._value(item, dot, variables) for item in rest]
            return self.functions[head](*args, *piped)
        if not rest and not piped:
            return self._value(head, dot, variables)
        raise TemplateError(f"unknown function {head!r}")

    def _value(self, item: Item, dot: Any, variables: dict[str, Any]) -> Any:
        if isinstance(item, list):
            if not item:
                raise TemplateError("empty ()")
            return self._command(item, dot, variables, [])
        return self._operand(item, dot, variables)

    def _operand(self, word: str, dot: Any, variables: dict[str, Any]) -> Any:
        if word.startswith('"'):
            return json.loads(word)
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word == ".":
            return dot
        if word.startswith("$"):
            name, _, path = word[1:].partition(".")
            if name not in variables:
                raise TemplateError(f"undefined variable ${name}")
            return self._walk(variables[name], path, word)
        if word.startswith("."):
            return self._walk(dot, word[1:], word)
        raise TemplateError(f"unsupported operand {word!r}")

    @staticmethod
    def _walk(value: Any, path: str, word: str) -> Any:
        for key in filter(None, path.split(".")):
            if not isinstance(value, Mapping) or key not in value:
                raise TemplateError(f"{word} does not exist in the values")
            value = value[key]
        return value

"""A strict renderer for the small Go-template subset the jitbot Helm chart uses.

Helm is not installable here, so the tests render the chart themselves. The subset: `{{ .Path }}`,
`$`/`$var` paths, string and number literals, pipelines with include, nindent, indent, toYaml, quote and
default, `if`/`else`/`end`, `range $k, $v := …`, `define`, `{{-`/`-}}` trimming and `{{/* comments */}}`.
Anything else, and any reference to a value that does not exist, raises — so a template that strays
outside what is checked here fails loudly instead of rendering something Helm would not.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)


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
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TemplateError(f"cannot print {type(value).__name__} directly: use toYaml")


class Renderer:
    """Renders one chart directory with given values, the way `helm template` would for this subset."""

    def __init__(self, chart_dir: Path, values: Mapping[str, Any], release_name: str, namespace: str = "default"):
        chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
        self.root = {
            "Values": values,
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
            words = shlex.split(command, posix=False)
            if not words:
                raise TemplateError(f"empty command in {pipeline!r}")
            head, args = words[0], [self._operand(word, dot, variables) for word in words[1:]]
            if head in self.functions:
                result = self.functions[head](*args, *([result] if index else []))
            elif index == 0 and not args:
                result = self._operand(head, dot, variables)
            else:
                raise TemplateError(f"unknown function {head!r} in {pipeline!r}")
        return result

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

"""Safe YAML loading that remembers where each value came from.

Users fix a bad plan or policy fastest when the error names the file, the field path and the line, so the
loader keeps a map from field path to line number next to the parsed data, and pydantic's validation
errors are rewritten into one line using it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auditor.errors import InputError

PathKey = tuple[str | int, ...]

# libyaml's safe loader when present: several times faster, which matters for a gate run on every commit.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed YAML document plus the line (1-based) of every mapping key and sequence item."""

    source: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: PathKey) -> int | None:
        """The line of ``loc`` or of its closest ancestor that has one."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


def read_text(path: Path, what: str, error: type[InputError] = InputError) -> str:
    """Read a user-named text file, turning every way it can be wrong into one clear line."""
    if not path.exists():
        raise error(f"{path}: {what} not found")
    if path.is_dir():
        raise error(f"{path}: is a directory, expected a {what} file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    if b"\x00" in raw[:8192]:
        raise error(f"{path}: looks like a binary file, expected a {what} in YAML")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise error(f"{path}: {what} is empty")
    return text


def load_yaml(path: Path, what: str, error: type[InputError] = InputError) -> LoadedYaml:
    """Parse one YAML document with the safe loader; syntax errors carry the line and column."""
    text = read_text(path, what, error)
    loader = _Loader(text)
    try:
        # Parse once: the node tree gives the lines, and the data is constructed from the same tree
        # (what ``yaml.load`` does internally after composing).
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join((exc.problem or exc.context or "invalid YAML").split())
        raise error(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LoadedYaml(source=path, data=data, lines=lines)


def _walk(node: yaml.Node, prefix: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            lines[(*prefix, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*prefix, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _walk(item, (*prefix, index), lines)


def describe_validation_error(
    exc: ValidationError, source: Path, lines: Mapping[PathKey, int] | LoadedYaml | None = None, prefix: str = ""
) -> str:
    """One line for the first error (plus how many more): ``file:line: field.path: what is wrong``."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc: PathKey = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    loc = tuple(p for p in loc if p not in {"literal", "constrained-str"})
    dotted = ".".join(str(p) for p in loc) or "(document)"
    line: int | None = None
    if isinstance(lines, LoadedYaml):
        line = lines.line_of(loc)
    elif lines is not None:
        key = loc
        while key and key not in lines:
            key = key[:-1]
        line = lines.get(key)
    where = f"{source}:{line}" if line else f"{source}"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {prefix}{dotted}: {msg}{more}"

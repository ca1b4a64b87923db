"""Safe YAML loading that remembers where each value came from.

Users fix a bad plan or policy fastest when the error names the file, the field path and the line, so the
loader keeps a map from field path to line number next to the parsed data, and pydantic's validation
errors are rewritten into one line using it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import ValidationError

from auditor.errors import InputError

PathKey = tuple[str | int, ...]

# libyaml's safe loader when present: several times faster, which matters for a gate run on every commit.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: YAML 1.2 core booleans. YAML 1.1 (PyYAML's default) also reads yes/no/on/off/y/n as booleans, so Norway
#: (``NO``), a language list ``[en, no]`` or ``storage_region: NO`` silently become ``false``.
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with YAML 1.2 booleans: only true/false are booleans, yes/no/on/off stay strings.

    The implicit resolvers are a class attribute shared with PyYAML's own loaders, so they are copied
    before the bool entries are replaced; the C parser asks this (Python) resolver for every scalar's tag.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))

#: pydantic's schema tags that appear inside a ``loc`` (union members, key validation, wrappers); they are
#: not fields the user wrote, so they are dropped from the field path shown.
_LOC_TAGS = frozenset({"literal", "constrained-str", "[key]", "str", "int", "float", "bool", "none", "list",
                       "dict", "date", "datetime", "is-instance", "json-or-python", "lax-or-strict", "chain",
                       "nullable", "tagged-union", "union", "model", "default", "typed-dict"})

#: Friendlier wording for pydantic messages whose default text confuses someone editing YAML.
_DATE_ERRORS = frozenset({"date_from_datetime_inexact", "date_from_datetime_parsing", "date_parsing", "date_type"})


@dataclass(frozen=True)
class LoadedYaml:
    """A parsed YAML document plus the line (1-based) of every mapping key and sequence item."""

    source: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: PathKey) -> int | None:
        """The line of ``loc`` or of its closest ancestor that has one.

        Keys are recorded as written (text), while pydantic reports a YAML ``1:`` key as the int ``1``; the
        text form is tried too so such an error still gets its line.
        """
        return _line_in(self.lines, loc)


def _line_in(lines: Mapping[PathKey, int], loc: PathKey) -> int | None:
    key = tuple(loc)
    while key:
        if key in lines:
            return lines[key]
        as_text = tuple(p if isinstance(p, str) or i < len(key) - 1 else str(p) for i, p in enumerate(key))
        if as_text in lines:
            return lines[as_text]
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
        _walk(node, (), lines, path, error)
    return LoadedYaml(source=path, data=data, lines=lines)


def _walk(node: yaml.Node, prefix: PathKey, lines: dict[PathKey, int], source: Path,
          error: type[InputError]) -> None:
    """Record the line of every key and item; a key repeated in one mapping is an error, at any depth.

    YAML loaders keep the last of two equal keys, so a second ``privacy:`` block would silently replace the
    first -- exactly the kind of edit a reviewer misses in a compliance document.
    """
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key in seen:
                    raise error(f"{source}:{line}: duplicate key '{key}' (first at line {seen[key]})")
                seen[key] = line
            lines[(*prefix, key)] = line
            _walk(value_node, (*prefix, key), lines, source, error)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _walk(item, (*prefix, index), lines, source, error)


def _is_loc_tag(part: str | int) -> bool:
    """``literal['none', 'scc']``, ``function-after[...]``, ``list[...]``: schema tags, not user fields."""
    return isinstance(part, str) and (part in _LOC_TAGS or "[" in part or part.startswith("function-"))


def describe_validation_error(
    exc: ValidationError, source: Path, lines: Mapping[PathKey, int] | LoadedYaml | None = None, prefix: str = ""
) -> str:
    """One line for the first error (plus how many more): ``file:line: field.path: what is wrong``."""
    errors = exc.errors(include_url=False, include_input=False)
    known = lines.lines if isinstance(lines, LoadedYaml) else lines

    def user_loc(raw: tuple[str | int, ...]) -> PathKey:
        loc: PathKey = ()
        for part in raw:
            # a key the document really has stays, even one named like a tag (the plan's ``model:``)
            if (known is not None and (*loc, part) in known) or not _is_loc_tag(part):
                loc = (*loc, part)
        return loc

    # A union field (one value or a list of them) fails once per branch; the deepest branch error names
    # the list item that is wrong, and the branches together are one mistake, not several.
    locs = [user_loc(tuple(e["loc"])) for e in errors]
    same = [i for i, other in enumerate(locs) if other[:len(locs[0])] == locs[0]]
    chosen = max(same, key=lambda i: len(locs[i]))
    first, loc = errors[chosen], locs[chosen]
    others = len(errors) - len(same)
    dotted = ".".join(str(p) for p in loc) or "(document)"
    line = _line_in(known, loc) if known is not None else None
    where = f"{source}:{line}" if line else f"{source}"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    elif first["type"] == "invalid_key" or "[key]" in first["loc"]:
        msg = "mapping keys must be text (quote the key)"
    elif first["type"] in _DATE_ERRORS:
        msg = "expected a date YYYY-MM-DD"
    elif first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    more = f" (and {others} more)" if others else ""
    return f"{where}: {prefix}{dotted}: {msg}{more}"

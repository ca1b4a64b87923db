"""Safe YAML loading that remembers where each value came from.

Users fix a bad plan or policy fastest when the error names the file, the field path and the line, so the
loader keeps a map from field path to line number next to the parsed data, and pydantic's validation
errors are rewritten into one line using it.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ValidationError

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
    raw: bytes = b""  # the bytes parsed: digests must be of these, not of a second read of the path

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


#: Inputs that are documents a person writes (plans, policies, waivers, policy tests): far below this.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Bounds on the parsed YAML, checked on the node tree before anything is constructed: an alias bomb
#: ("billion laughs") is a small file whose expansion is not, and a self-referencing alias never ends.
MAX_NODES = 200_000
MAX_DEPTH = 64
MAX_SCALAR_CHARS = 1024 * 1024
MAX_INT_DIGITS = 100


def check_input_file(path: Path, what: str, error: type[InputError] = InputError,
                     max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
    """Every file a user names: it exists, is a regular file (a FIFO would block forever, ``/dev/zero``
    would never end) and is not larger than ``max_bytes``."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, expected a {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file (a pipe or device); save the {what} to a file first")
    if info.st_size > max_bytes:
        raise error(f"{path}: {what} is {info.st_size:,} bytes, more than the {max_bytes:,} accepted")


def read_bytes(path: Path, what: str, error: type[InputError] = InputError,
               max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A user-named file's bytes, checked first and read no further than ``max_bytes`` (it may grow)."""
    check_input_file(path, what, error, max_bytes)
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise error(f"{path}: {what} is more than the {max_bytes:,} bytes accepted")
    return raw


def read_text(path: Path, what: str, error: type[InputError] = InputError,
              max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """Read a user-named text file, turning every way it can be wrong into one clear line."""
    return _decode(read_bytes(path, what, error, max_bytes), path, what, error)


def _decode(raw: bytes, path: Path, what: str, error: type[InputError]) -> str:
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
    """Parse one YAML document with the safe loader; syntax errors carry the line and column.

    The node tree is walked (bounded: nodes counted with aliases expanded, depth, scalar sizes) before any
    value is constructed, so a hostile document costs at most ``MAX_NODES`` steps.
    """
    raw = read_bytes(path, what, error)
    text = _decode(raw, path, what, error)
    loader = _Loader(text)
    try:
        # Parse once: the node tree gives the lines, and the data is constructed from the same tree
        # (what ``yaml.load`` does internally after composing).
        node = loader.get_single_node()
        lines: dict[PathKey, int] = {}
        if node is not None:
            _walk(node, lines, path, error)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join((exc.problem or exc.context or "invalid YAML").split())
        raise error(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a timestamp or number Python refuses
        raise error(f"{path}: invalid YAML value ({type(exc).__name__})") from None
    finally:
        loader.dispose()
    return LoadedYaml(source=path, data=data, lines=lines, raw=raw)


def _walk(root: yaml.Node, lines: dict[PathKey, int], source: Path, error: type[InputError]) -> None:
    """Record the line of every key and item; a key repeated in one mapping is an error, at any depth.

    YAML loaders keep the last of two equal keys, so a second ``privacy:`` block would silently replace the
    first -- exactly the kind of edit a reviewer misses in a compliance document. Iterative, and bounded:
    aliases are followed (so an alias bomb counts as what it expands to), depth and scalars are capped.
    """
    stack: list[tuple[yaml.Node, PathKey]] = [(root, ())]
    visited = 0
    while stack:
        node, prefix = stack.pop()
        visited += 1
        line = node.start_mark.line + 1
        if visited > MAX_NODES:
            raise error(f"{source}:{line}: the document expands to more than {MAX_NODES:,} values (aliases "
                        "included); that is not a plan or policy")
        if len(prefix) > MAX_DEPTH:
            raise error(f"{source}:{line}: nested more than {MAX_DEPTH} levels deep (or an alias refers to "
                        "itself)")
        lines.setdefault(prefix, line)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node, source, error)
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
                key_line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode):
                    _check_scalar(key_node, source, error)
                    if key_node.tag != "tag:yaml.org,2002:merge":
                        if key in seen:
                            raise error(f"{source}:{key_line}: duplicate key '{key}' (first at line {seen[key]})")
                        seen[key] = key_line
                else:
                    stack.append((key_node, (*prefix, key)))
                lines[(*prefix, key)] = key_line
                stack.append((value_node, (*prefix, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*prefix, index)] = item.start_mark.line + 1
                stack.append((item, (*prefix, index)))


def _check_scalar(node: yaml.ScalarNode, source: Path, error: type[InputError]) -> None:
    line = node.start_mark.line + 1
    if len(node.value) > MAX_SCALAR_CHARS:
        raise error(f"{source}:{line}: a value of {len(node.value):,} characters is longer than the "
                    f"{MAX_SCALAR_CHARS:,} accepted")
    if node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_INT_DIGITS:
        raise error(f"{source}:{line}: an integer of {len(node.value):,} digits (at most {MAX_INT_DIGITS})")


def _is_loc_tag(part: str | int) -> bool:
    """``literal['none', 'scc']``, ``function-after[...]``, ``list[...]``: schema tags, not user fields."""
    return isinstance(part, str) and (part in _LOC_TAGS or "[" in part or part.startswith("function-"))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold: ``X``, ``X | None``, ``list[X]``, ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def field_names_at(model: type[BaseModel], loc: PathKey) -> list[str]:
    """The field names allowed beside the last part of ``loc`` (list indexes are stepped over); empty when
    the path leaves the models (a free-form mapping)."""
    current = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        current = [inner for m in current if part in m.model_fields
                   for inner in _models_in(m.model_fields[part].annotation)]
    return sorted({name for m in current for name in m.model_fields})


def _unknown_field(loc: PathKey, model: type[BaseModel] | None) -> str:
    if model is not None and loc and isinstance(loc[-1], str):
        close = difflib.get_close_matches(loc[-1], field_names_at(model, loc), n=1, cutoff=0.6)
        if close:
            return f"unknown field; did you mean '{close[0]}'?"
    return "unknown field (check the spelling)"


def describe_validation_error(
    exc: ValidationError, source: Path, lines: Mapping[PathKey, int] | LoadedYaml | None = None, prefix: str = "",
    model: type[BaseModel] | None = None,
) -> str:
    """One line for the first error (plus how many more): ``file:line: field.path: what is wrong``.

    With the ``model`` that was validated, a misspelt field name gets the closest allowed name at its level.
    """
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
        msg = _unknown_field(loc, model)
    elif first["type"] == "invalid_key" or "[key]" in first["loc"]:
        msg = "mapping keys must be text (quote the key)"
    elif first["type"] in _DATE_ERRORS:
        msg = "expected a date YYYY-MM-DD"
    elif first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    more = f" (and {others} more)" if others else ""
    return f"{where}: {prefix}{dotted}: {msg}{more}"

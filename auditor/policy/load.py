"""Load policy files: safe YAML, pydantic validation, CEL compiled once, errors as ``file:line: ...``.

A policy file is data and may come from anyone, so it is parsed with the safe loader and never executed;
a typo fails here, at load, with the file, the rule ID and the column, not at evaluation time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from auditor.errors import PolicyLoadError
from auditor.policy.celx import CelSyntaxError, Expr, compile_expr
from auditor.policy.model import Policy, PolicySpec, PrivacyBlock, Rule
from auditor.resources import data_dir
from auditor.yamlio import LoadedYaml, PathKey, describe_validation_error, load_yaml


def bundled_dir() -> Path:
    return data_dir("policies")


def bundled_ids() -> list[str]:
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def _compile(loaded: LoadedYaml, loc: PathKey, source: str | None, owner: str) -> Expr | None:
    if source is None:
        return None
    try:
        return compile_expr(source)
    except CelSyntaxError as exc:
        line = loaded.line_of(loc)
        where = f"{loaded.source}:{line}" if line else str(loaded.source)
        column = f" column {exc.column}" if exc.column else ""
        raise PolicyLoadError(f"{where}: {owner}: {loc[-1]}: CEL syntax error at{column}: {exc.detail}") from None


def load_policy(path: Path | str, *, bundled: bool = False) -> Policy:
    """Load and compile one policy file."""
    path = Path(path)
    loaded = load_yaml(path, "policy", PolicyLoadError)
    if not isinstance(loaded.data, dict):
        raise PolicyLoadError(f"{path}:1: a policy must be a YAML mapping with id, title, version and rules")
    try:
        spec = PolicySpec.model_validate(loaded.data)
    except ValidationError as exc:
        raise PolicyLoadError(describe_validation_error(exc, path, loaded)) from None
    seen: set[str] = set()
    rules: list[Rule] = []
    for index, rule in enumerate(spec.rules):
        if rule.id in seen:
            raise PolicyLoadError(f"{path}:{loaded.line_of(('rules', index))}: duplicate rule id {rule.id}")
        seen.add(rule.id)
        require = _compile(loaded, ("rules", index, "require"), rule.require, f"rule {rule.id}")
        assert require is not None
        rules.append(Rule(spec=rule, when=_compile(loaded, ("rules", index, "when"), rule.when,
                                                    f"rule {rule.id}"), require=require))
    blocks: list[PrivacyBlock] = []
    for index, block in enumerate(spec.privacy):
        if block.id in seen:
            raise PolicyLoadError(f"{path}:{loaded.line_of(('privacy', index))}: duplicate rule id {block.id}")
        seen.add(block.id)
        blocks.append(PrivacyBlock(spec=block, when=_compile(loaded, ("privacy", index, "when"), block.when,
                                                              f"privacy {block.id}")))
    applies = _compile(loaded, ("applies_when",), spec.applies_when, f"policy {spec.id}")
    return Policy(spec=spec, source=path, sha256=hashlib.sha256(loaded.raw).hexdigest(),
                  bundled=bundled, applies_when=applies, rules=tuple(rules), privacy=tuple(blocks))


def _expand(ref: str) -> list[tuple[Path, bool]]:
    if ref in ("bundled", "all"):
        return [(p, True) for p in sorted(bundled_dir().glob("*.yaml"))]
    candidate = Path(ref).expanduser()
    if candidate.is_dir():
        files = sorted([*candidate.glob("*.yaml"), *candidate.glob("*.yml")])
        if not files:
            raise PolicyLoadError(f"{candidate}: no policy files (*.yaml) in this directory")
        return [(p, False) for p in files]
    if candidate.suffix in (".yaml", ".yml") or candidate.exists() or "/" in ref:
        return [(candidate, False)]
    bundled = bundled_dir() / f"{ref}.yaml"
    if bundled.is_file():
        return [(bundled, True)]
    raise PolicyLoadError(f"unknown policy '{ref}': not a bundled policy ({', '.join(bundled_ids())}) "
                          "and not a file")


def resolve_policies(refs: Sequence[str] = ()) -> list[Policy]:
    """Bundled IDs, files or directories; none means every bundled policy.

    A later policy with the same ``id`` replaces an earlier one, so ``--policy bundled --policy my-gdpr.yaml``
    is the bundled set with the user's GDPR file (and its own DP defaults) in place of ours.
    """
    by_id: dict[str, Policy] = {}
    for ref in refs or ("bundled",):
        for path, bundled in _expand(ref):
            policy = load_policy(path, bundled=bundled)
            by_id.pop(policy.id, None)
            by_id[policy.id] = policy
    owners: dict[str, str] = {}
    for policy in by_id.values():
        for rule_id in [r.spec.id for r in policy.rules] + [b.spec.id for b in policy.privacy]:
            if rule_id in owners:
                raise PolicyLoadError(f"{policy.source}: rule id {rule_id} is also defined by policy "
                                      f"'{owners[rule_id]}'; rule ids must be unique")
            owners[rule_id] = policy.id
    return list(by_id.values())

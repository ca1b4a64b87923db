"""``auditor policies show``: what one policy checks, for a person (text, Markdown) or a program (JSON).

One block per rule rather than one wide table: a CEL condition is long and unbreakable, and a five-column
table at 80 columns cut every condition to a dozen characters. Add a format by adding it to
:data:`RENDERERS`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from auditor.mdtext import md_code, md_text
from auditor.policy.model import Policy, PrivacyBlockSpec

#: ``policies show --format json``: bump when a field changes meaning or goes away
SCHEMA_VERSION = 1


def _bounds(block: PrivacyBlockSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in block.require.model_dump(exclude_none=True).items())


def _source(policy: Policy) -> str:
    return "bundled" if policy.bundled else str(policy.source)


def render_text(policy: Policy, width: int) -> str:
    """Wrapped at ``width`` by rich; long conditions fold inside their column instead of being cut."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, no_color=True, soft_wrap=False)
    spec = policy.spec
    console.print(Text(f"{spec.id} — {spec.title} (version {spec.version})", style="bold"))
    if spec.url:
        console.print(spec.url, overflow="fold")
    if spec.description:
        console.print(" ".join(spec.description.split()))
    console.print(f"Applies when: {spec.applies_when or 'always'}", overflow="fold")
    console.print(f"sha256: {policy.sha256}", overflow="fold")
    console.print(f"Source: {_source(policy)}", overflow="fold")

    def block(heading: str, rows: list[tuple[str, str]]) -> None:
        console.print()
        console.print(Text(heading, style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(ratio=1, overflow="fold")
        for label, value in rows:
            grid.add_row(f"  {label}", " ".join(value.split()))
        console.print(grid)

    for rule in spec.rules:
        block(f"{rule.id}  [{rule.severity}]", [
            ("Title", rule.title), ("Citation", f"{rule.citation.ref} {rule.citation.url}"),
            ("When", rule.when or "always"), ("Require", rule.require),
            *([("Fix", rule.remediation)] if rule.remediation else [])])
    for privacy in spec.privacy:
        block(f"{privacy.id}  [privacy]", [
            ("Title", privacy.title), ("Citation", f"{privacy.citation.ref} {privacy.citation.url}"),
            ("When", privacy.when or "always"), ("Requires", _bounds(privacy))])
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_markdown(policy: Policy, width: int = 0) -> str:
    """Headings and lists (no tables: conditions stay whole); every value escaped (policies come from anyone)."""
    spec = policy.spec
    lines = [f"# {md_text(spec.id)} — {md_text(spec.title)} (version {md_text(spec.version)})", ""]
    if spec.url:
        lines += [f"<{spec.url}>", ""] if spec.url.startswith(("https://", "http://")) and " " not in spec.url \
            and ">" not in spec.url else [md_text(spec.url), ""]
    if spec.description:
        lines += [md_text(" ".join(spec.description.split())), ""]
    lines += [f"- Applies when: {md_code(spec.applies_when or 'always')}", f"- sha256: {md_code(policy.sha256)}",
              f"- Source: {md_text(_source(policy))}", "", "## Rules", ""]

    def link(ref: str, url: str) -> str:
        return f"[{md_text(ref)}](<{url}>)" if " " not in url and not set("<>\n") & set(url) else md_text(ref)

    for rule in spec.rules:
        lines += [f"### {md_text(rule.id)} — {md_text(rule.title)}", "",
                  f"- Severity: {rule.severity}", f"- Citation: {link(rule.citation.ref, rule.citation.url)}",
                  f"- When: {md_code(rule.when or 'always')}", f"- Require: {md_code(' '.join(rule.require.split()))}"]
        if rule.remediation:
            lines.append(f"- Remediation: {md_text(' '.join(rule.remediation.split()))}")
        lines.append("")
    if spec.privacy:
        lines += ["## Privacy requirements", ""]
        for privacy in spec.privacy:
            lines += [f"### {md_text(privacy.id)} — {md_text(privacy.title)}", "",
                      f"- Citation: {link(privacy.citation.ref, privacy.citation.url)}",
                      f"- When: {md_code(privacy.when or 'always')}", f"- Requires: {md_code(_bounds(privacy))}", ""]
    return "\n".join(lines)


def render_json(policy: Policy, width: int = 0) -> str:
    """The policy as loaded (every field, defaults filled in), with its digest and where it came from."""
    doc = {"schema_version": SCHEMA_VERSION, "sha256": policy.sha256, "source": _source(policy),
           "bundled": policy.bundled, "policy": policy.spec.model_dump(mode="json")}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Policy, int], str]] = {
    "text": render_text, "markdown": render_markdown, "json": render_json}

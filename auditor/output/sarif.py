"""SARIF 2.1.0 for code scanning (GitHub upload-sarif, the SARIF Multitool): one alert per thing to fix.

GitHub opens an alert for every result, whatever its ``kind``, and does not honour ``suppressions``. So by
default the log holds only failures and rule errors (as Checkov's and Conftest's do); passed, not-applicable
and waived rules come in only when asked for (:class:`~auditor.output.SarifOptions`). Each result points at
the plan line that decides it, by a URI relative to the repository root (:mod:`auditor.output.location`), and
carries a fingerprint that survives re-runs and moved lines, so an alert stays one alert until it is fixed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.facts import SCAN_FACTS
from auditor.findings import Finding, GateResult
from auditor.output import Formatter, RenderContext, SarifOptions
from auditor.output.location import PlanLocation
from auditor.output.order import ordered, plan_fields, plan_line

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
#: GitHub reads over 9.0 as critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low; info carries none.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
#: Findings that need fixing; the default content of the log. A rule that needs a scan blocks the gate
#: too, so it is in the log (as SARIF's ``open``: not decided), never left for the reader to guess.
ALERTS = frozenset({"fail", "error", "needs_scan"})
#: Our key for ``partialFingerprints``: GitHub reads only ``primaryLocationLineHash`` and computes one from
#: the file's lines when it is missing, which would move an alert whenever the plan's lines move.
FINGERPRINT_KEY = "primaryLocationLineHash"
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


@functools.cache
def information_uri() -> str | None:
    """The project's home from the installed package's metadata (``[project.urls]``); ``None`` if it has none."""
    import importlib.metadata  # only for SARIF: the gate's other formats do not pay for reading metadata

    try:
        meta = importlib.metadata.metadata("auditor")
    except importlib.metadata.PackageNotFoundError:
        return None
    labelled = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        labelled[label.strip().lower()] = url.strip()
    for url in (*(labelled.get(k) for k in ("homepage", "source", "repository", "documentation")),
                *(meta.get_all("Home-page") or [])):
        if url and url.startswith(("https://", "http://")):
            return str(url)
    return None


def selected(result: GateResult, options: SarifOptions) -> list[Finding]:
    """The findings that become results, most urgent first; a rule needing a scan only where it blocks
    (``--plan-only`` lists those rules without blocking, and then they are no alert)."""
    if options.all_results:
        return ordered(result.findings)
    keep = (ALERTS - ({"needs_scan"} if result.plan_only else set())) | ({"waived"} if options.waived else set())
    return [f for f in ordered(result.findings) if f.status in keep]


def _kind_level(finding: Finding) -> tuple[str, str]:
    if finding.status in ("fail", "error"):
        return "fail", LEVELS[finding.severity]
    if finding.status == "waived":
        return "fail", "note"  # visible for review, below every alert threshold
    if finding.status == "pass":
        return "pass", "none"
    if finding.status == "needs_scan":
        return "open", "none"  # SARIF's "cannot tell without more information"; a non-fail kind has level none
    return "notApplicable", "none"


def _plan_line(finding: Finding, ctx: RenderContext) -> int:
    return plan_line(finding, ctx.plan_lines) or 1


def _plan_field(finding: Finding) -> str | None:
    """The plan field the fix goes to (else the first the rule reads): the result's logical location,
    independent of the plan's lines."""
    return next(iter(plan_fields(finding)), None)


def fingerprint(finding: Finding, location: PlanLocation) -> str:
    """sha256 over rule, policy, repository-relative plan path and deciding plan field (32 hex digits).

    No line number and no message: an alert keeps its identity when lines move or counts change.
    """
    key = "\0".join(("auditor-sarif/v1", finding.policy, finding.rule, location.path, _plan_field(finding) or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _precision(finding: Finding, ctx: RenderContext) -> str:
    """How often the rule's result is right: plan facts are what the plan declares; scan facts come from
    recognizers (false positives) or, for a sample scan, from 95% upper bounds."""
    from_scan = any(path.startswith("facts.") and path.split(".")[1] in SCAN_FACTS for path in finding.facts)
    if not from_scan:
        return "very-high"
    return "medium" if ctx.scan_sampled else "high"


def _rule(finding: Finding, ctx: RenderContext) -> dict[str, Any]:
    f = finding
    help_text = f"{f.citation} ({f.url}). {f.remediation}".strip() if f.url else f"{f.citation}. {f.remediation}"
    properties: dict[str, Any] = {"tags": ["compliance", "privacy", f.policy], "precision": _precision(f, ctx),
                                  "policy": f.policy, "severity": f.severity}
    if f.severity in SECURITY_SEVERITY:
        properties["tags"].insert(0, "security")
        properties["security-severity"] = SECURITY_SEVERITY[f.severity]
    rule: dict[str, Any] = {
        "id": f.rule,
        "name": "".join(part.capitalize() for part in f.rule.split("-")),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f"{f.title} — {f.citation}"},
        "help": {"text": help_text, "markdown": f"**{f.citation}** — [{f.url}]({f.url})\n\n{f.remediation}"
                 if f.url else f"**{f.citation}**\n\n{f.remediation}"},
        "defaultConfiguration": {"level": LEVELS[f.severity]},
        "properties": properties,
    }
    if f.url:
        rule["helpUri"] = f.url
    return rule


def _result(finding: Finding, rule_index: int, ctx: RenderContext, location: PlanLocation) -> dict[str, Any]:
    f = finding
    kind, level = _kind_level(f)
    artifact: dict[str, Any] = {"uri": location.uri}
    if location.base_id:
        artifact["uriBaseId"] = location.base_id
    where: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact,
                                                  "region": {"startLine": _plan_line(f, ctx)}}}
    plan_field = _plan_field(f)
    if plan_field:
        where["logicalLocations"] = [{"fullyQualifiedName": plan_field, "kind": "property"}]
    entry: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "kind": kind,
        "level": level,
        "message": {"text": f.conclusion or f.message},
        "locations": [where],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f, location)},
        "properties": {"status": f.status, "severity": f.severity, "policy": f.policy,
                       "citation": f.citation, "facts": f.facts},
    }
    if f.status == "waived" and f.waiver is not None:
        entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                  "justification": f"{f.waiver.reason} (approved by {f.waiver.approver}, "
                                                   f"expires {f.waiver.expires})"}]
    return entry


def _policy(ref: dict[str, Any], location: PlanLocation) -> dict[str, Any]:
    """A policy as the run's properties show it: a file by its repository path, never this machine's path."""
    if ref["source"] != "bundled":
        ref["source"] = location.relative(Path(ref["source"]))
    return ref


def automation_id(options: SarifOptions, location: PlanLocation) -> str:
    """``category/``: GitHub reads everything before the last ``/`` as the category, so several plans per
    commit each keep their own alerts; the default is the plan's repository path."""
    category = options.category or f"auditor/{location.path}"
    return category if category.endswith("/") else f"{category}/"


class SarifFormatter(Formatter):
    name = "sarif"
    suffix = ".sarif"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        location = ctx.plan_location or PlanLocation.from_typed(ctx.plan_path)
        findings = selected(result, ctx.sarif)
        chosen = {f.rule for f in findings}
        rules: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        for f in result.findings:  # in policy order, which a change of status does not reshuffle
            if f.rule in chosen and f.rule not in index:
                index[f.rule] = len(rules)
                rules.append(_rule(f, ctx))
        driver: dict[str, Any] = {"name": "auditor", "version": __version__, "semanticVersion": __version__}
        uri = information_uri()
        if uri:
            driver["informationUri"] = uri
        driver["rules"] = rules
        invocation: dict[str, Any] = {"executionSuccessful": True, "exitCode": result.exit_code}
        if location.note:
            invocation["toolExecutionNotifications"] = [{"level": "warning", "message": {"text": location.note}}]
        run: dict[str, Any] = {"tool": {"driver": driver},
                               "automationDetails": {"id": automation_id(ctx.sarif, location)}}
        if location.base_id:
            # no "uri": the root is wherever the repository is checked out, never this machine's folder
            run["originalUriBaseIds"] = {location.base_id: {"description": {
                "text": "The repository root: the folder holding .git above the plan, or --repo-root."}}}
        run |= {
            "results": [_result(f, index[f.rule], ctx, location) for f in findings],
            "invocations": [invocation],
            "properties": {"verdict": result.verdict, "fail_on": result.fail_on,
                           "results": "all" if ctx.sarif.all_results else
                                      "failures, errors, waived" if ctx.sarif.waived else "failures, errors",
                           "policies": [_policy(p.model_dump(mode="json"), location) for p in result.policies]},
        }
        log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
        return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


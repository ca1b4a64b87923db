"""Evaluate policies against facts: applicability, rules, waivers, and the merged privacy requirement.

Every rule yields a finding, including the ones that pass or do not apply, so a report can show what was
checked and not only what failed. An expression that reads an absent fact never passes silently: without a
scan it is ``needs_scan`` (its own status, never counted as not applicable); otherwise it is an ``error``
naming the fact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from auditor.facts import SCAN_FACTS, Facts
from auditor.findings import Finding, PolicyRef, Status, waiver_note
from auditor.plan import TrainingPlan
from auditor.policy.celx import CelContext, Expr, cel_context, first_missing, is_missing, lookup
from auditor.policy.model import Policy, PrivacyBlock, Rule
from auditor.policy.wording import render_explain, render_sentence
from auditor.privacy.requirements import PrivacyBounds, PrivacyRequirement, merge

if TYPE_CHECKING:  # waivers are loaded (and their module imported) only when a waiver file is given
    from auditor.policy.waivers import Waiver


@dataclass(frozen=True)
class Outcome:
    kind: Literal["true", "false", "needs_scan", "error"]
    detail: str = ""


def _needs_scan(missing: str) -> bool:
    parts = missing.split(".")
    return parts[0] == "facts" and len(parts) > 1 and parts[1] in SCAN_FACTS


def _run(expr: Expr, context: dict[str, Any], facts: Facts, compiled: CelContext | None = None) -> Outcome:
    try:
        value = expr.evaluate(context if compiled is None else compiled)
    except Exception as exc:  # the CEL runtime raises KeyError, ValueError, TypeError, RuntimeError
        missing = first_missing(context, expr)
        if missing is not None and _needs_scan(missing) and not facts.scan_available:
            return Outcome("needs_scan", missing)
        if missing is not None and _needs_scan(missing):
            # e.g. records per person from a scan made without the plan's user id field, or an older scan
            return Outcome("error", f"needs {missing}, which this scan does not record; rescan with the plan "
                                    "(auditor scan --plan PLAN)")
        if missing is not None:
            return Outcome("error", f"needs {missing}, which is absent")
        return Outcome("error", f"cannot evaluate '{expr.source}': {type(exc).__name__}: {exc}")
    if not isinstance(value, bool):
        return Outcome("error", f"'{expr.source}' gave {type(value).__name__}, expected true or false")
    return Outcome("true" if value else "false")


def _deciding_facts(exprs: Sequence[Expr | None], context: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for expr in exprs:
        if expr is None:
            continue
        for path in expr.paths:
            value = lookup(context, path)
            out[path] = None if is_missing(value) else value
    return out


@dataclass(frozen=True)
class Evaluation:
    policies: list[PolicyRef]
    findings: list[Finding]
    requirement: PrivacyRequirement


class Evaluator:
    """Evaluates a set of policies for one plan and its facts; waivers are applied to the findings."""

    def __init__(self, plan: TrainingPlan, facts: Facts, waivers: Sequence[Waiver] = (),
                 waiver_source: Path | None = None, today: dt.date | None = None) -> None:
        self.plan = plan
        self.facts = facts
        self.context: dict[str, Any] = {"plan": plan.cel_view(), "facts": facts.cel_view()}
        self.waivers = list(waivers)
        self.waiver_source = waiver_source or Path("waivers.yaml")
        self.today = today or dt.date.today()

    @cached_property
    def _compiled(self) -> CelContext:
        """:attr:`context` as CEL values, converted once for every expression this evaluator runs."""
        return cel_context(self.context)

    def evaluate(self, policies: Sequence[Policy]) -> Evaluation:
        refs: list[PolicyRef] = []
        findings: list[Finding] = []
        blocks: list[tuple[str, PrivacyBounds]] = []
        for policy in policies:
            applies, reason, sentence = self._applies(policy)
            refs.append(PolicyRef(id=policy.id, title=policy.spec.title, version=policy.spec.version,
                                  applies=bool(applies), sha256=policy.sha256,
                                  source="bundled" if policy.bundled else str(policy.source), reason=sentence,
                                  not_covered=list(policy.spec.not_covered)))
            for rule in policy.rules:
                findings.append(self._rule(policy, rule, applies, reason, sentence))
            for block in policy.privacy:
                finding, bounds = self._privacy(policy, block, applies, reason, sentence)
                findings.append(finding)
                if bounds is not None:
                    blocks.append((f"{policy.id}/{block.spec.id}", bounds))
        findings = self._apply_waivers(findings)
        return Evaluation(policies=refs, findings=findings, requirement=merge(blocks))

    def _applies(self, policy: Policy) -> tuple[bool | None, str, str]:
        """Whether the policy applies (``None`` when only a scan can tell), why in facts (for messages), and
        why in words (``PolicyRef.reason``: ``applies_text`` / ``not_applies_text`` once the condition is
        decided; the facts otherwise)."""
        spec = policy.spec
        if policy.applies_when is None:
            return True, "always applies", self._worded(spec.applies_text, "always applies")
        outcome = _run(policy.applies_when, self.context, self.facts, self._compiled)
        shown = ", ".join(f"{k}={v}" for k, v in _deciding_facts([policy.applies_when], self.context).items())
        if outcome.kind == "true":
            reason = f"applies: {shown}" if shown else "applies"
            return True, reason, self._worded(spec.applies_text, reason)
        if outcome.kind == "false":
            reason = f"does not apply: {shown}" if shown else "does not apply"
            return False, reason, self._worded(spec.not_applies_text, reason)
        if outcome.kind == "needs_scan":
            reason = f"not determined without a scan ({outcome.detail}); run with --scan"
            return None, reason, reason
        reason = f"applicability could not be evaluated ({outcome.detail}); treated as applying"
        return True, reason, reason

    def _finding(self, policy: Policy, rule: Rule | PrivacyBlock, status: Status, message: str,
                 facts: dict[str, Any], conclusion: str | None = None) -> Finding:
        spec = rule.spec
        return Finding(policy=policy.id, rule=spec.id, title=spec.title, status=status,
                       severity=spec.severity, citation=spec.citation.ref,
                       url=spec.citation.url, message=message, facts=facts,
                       remediation=getattr(spec, "remediation", ""),
                       conclusion=message if conclusion is None else conclusion)

    def _needs_scan(self, policy: Policy, rule: Rule, detail: str, decided: dict[str, Any]) -> Finding:
        return self._finding(policy, rule, "needs_scan",
                             f"Needs a scan: {detail} comes from the dataset scan (run `auditor scan`, then "
                             "pass --scan).", decided)

    def _worded(self, template: str | None, fallback: str) -> str:
        """A ``met`` / ``not_applicable`` / applies sentence, rendered; ``fallback`` for a policy without it."""
        return render_sentence(template, self.context) if template else fallback

    def _rule(self, policy: Policy, rule: Rule, applies: bool | None, reason: str, sentence: str) -> Finding:
        decided = _deciding_facts([rule.require, rule.when], self.context)  # require first: it decides
        if applies is None:  # whether the policy applies at all depends on the data
            return self._finding(policy, rule, "needs_scan", f"Needs a scan: policy {policy.id} is {reason}.", {})
        if not applies:
            return self._finding(policy, rule, "not_applicable", f"Policy {policy.id} {reason}.", {},
                                 conclusion=sentence)
        if rule.when is not None:
            gate = _run(rule.when, self.context, self.facts, self._compiled)
            if gate.kind == "needs_scan":
                return self._needs_scan(policy, rule, gate.detail, decided)
            if gate.kind == "error":
                return self._finding(policy, rule, "error", f"Rule condition error: {gate.detail}.", decided)
            if gate.kind == "false":
                message = f"Does not apply: condition '{rule.when.source}' is false."
                return self._finding(policy, rule, "not_applicable", message, decided,
                                     conclusion=self._worded(rule.spec.not_applicable, message))
        outcome = _run(rule.require, self.context, self.facts, self._compiled)
        if outcome.kind == "needs_scan":
            return self._needs_scan(policy, rule, outcome.detail, decided)
        if outcome.kind == "error":
            return self._finding(policy, rule, "error", f"Rule error: {outcome.detail}.", decided)
        if outcome.kind == "true":
            message = f"Met: {rule.spec.title}."
            return self._finding(policy, rule, "pass", message, decided,
                                 conclusion=self._worded(rule.spec.met, message))
        message = render_explain(rule.spec.explain, self.context) if rule.spec.explain else (
            f"Not met: {rule.spec.title} (requires {rule.require.source}).")
        # the same sentence for people: 1,999 not 1999, "none" not [], yes/no not True/False
        worded = render_sentence(rule.spec.explain, self.context) if rule.spec.explain else message
        return self._finding(policy, rule, "fail", message, decided, conclusion=worded)

    def _privacy(self, policy: Policy, block: PrivacyBlock, applies: bool | None, reason: str,
                 sentence: str) -> tuple[Finding, PrivacyBounds | None]:
        """A privacy block both feeds the merged requirement and checks the plan's own DP settings.

        Without a scan it is assumed to apply (the strictest reading), so it never reports ``needs_scan``;
        a policy whose own applicability needs a scan contributes no bounds until there is one.
        """
        if not applies:
            return self._finding(policy, block, "not_applicable", f"Policy {policy.id} {reason}.", {},
                                 conclusion=sentence), None
        decided = _deciding_facts([block.when], self.context)
        assumed = ""
        if block.when is not None:
            gate = _run(block.when, self.context, self.facts, self._compiled)
            if gate.kind == "false":
                message = f"Does not apply: condition '{block.when.source}' is false."
                return self._finding(policy, block, "not_applicable", message, decided,
                                     conclusion=self._worded(block.spec.not_applicable, message)), None
            if gate.kind == "needs_scan":
                assumed = " Without a scan this requirement is assumed to apply (strictest reading)."
            elif gate.kind == "error":
                assumed = f" Its condition could not be evaluated ({gate.detail}); assumed to apply."
        bounds = block.spec.require
        problems = self._plan_vs_bounds(bounds, f"{policy.id}/{block.spec.id}")
        decided |= {"plan.privacy.mechanism": self.plan.privacy.mechanism,
                    "plan.privacy.target_epsilon": self.plan.privacy.target_epsilon,
                    "plan.privacy.target_delta": self.plan.privacy.target_delta,
                    "plan.privacy.max_grad_norm": self.plan.privacy.max_grad_norm}
        if self.facts.n is not None:
            decided["facts.n"] = self.facts.n
        required = ", ".join(f"{k}={v}" for k, v in bounds.model_dump(exclude_none=True).items())
        if problems:
            return self._finding(policy, block, "fail", "The plan does not meet this policy's DP requirement: "
                                 + "; ".join(problems) + "." + assumed, decided), bounds
        n = self.facts.n
        delta_at_n = merge([("", bounds)]).delta_for(n) if n else None
        resolved = f" (δ ≤ {delta_at_n:.3g} at n={n})" if delta_at_n is not None else ""
        message = f"The plan's DP settings meet {required}{resolved}.{assumed}"
        at_n = f" At n={n:,} privacy units the δ bound is {delta_at_n:.3g}." if delta_at_n is not None else ""
        met = self._worded(block.spec.met, "") + at_n + assumed if block.spec.met else message
        return self._finding(policy, block, "pass", message, decided, conclusion=met), bounds

    def _plan_vs_bounds(self, bounds: PrivacyBounds, origin: str) -> list[str]:
        """What in the plan's ``privacy:`` exceeds one block; δ and the unit count are judged by the same
        :class:`PrivacyRequirement` methods training uses, so ``check`` and ``train`` never disagree."""
        privacy = self.plan.privacy
        problems: list[str] = []
        if bounds.dp_required and privacy.mechanism == "none":
            problems.append("DP is required but privacy.mechanism is 'none'")
        if bounds.max_epsilon is not None and privacy.target_epsilon is not None \
                and privacy.target_epsilon > bounds.max_epsilon:
            problems.append(f"target_epsilon {privacy.target_epsilon} > max {bounds.max_epsilon}")
        single = merge([(origin, bounds)])
        n = self.facts.n
        if privacy.mechanism != "none":
            # 'auto' resolves to the bound itself, so it can only fail a bound that admits no δ at this n
            target = privacy.target_delta if isinstance(privacy.target_delta, float) else 0.0
            problems += [p for p in (single.target_delta_problem(target, n), single.units_problem(n)) if p]
        if bounds.max_grad_norm is not None and privacy.max_grad_norm is not None \
                and privacy.max_grad_norm > bounds.max_grad_norm:
            problems.append(f"max_grad_norm {privacy.max_grad_norm} > max {bounds.max_grad_norm}")
        return problems

    def _apply_waivers(self, findings: list[Finding]) -> list[Finding]:
        if not self.waivers:
            return findings
        out: list[Finding] = []
        expired_notes: list[Finding] = []
        dataset = self.plan.dataset.path
        by_rule = {f.rule: f for f in findings}
        for finding in findings:
            waiver = next((w for w in self.waivers if w.rule == finding.rule
                           and (w.scope is None or w.scope.matches(self.plan.name, dataset, finding.policy))
                           and not w.expired(self.today)), None)
            if waiver is not None and finding.status in ("fail", "error"):
                waived = waiver_note(waiver.ref(self.waiver_source))
                finding = finding.model_copy(update={"status": "waived", "waiver": waiver.ref(self.waiver_source),
                                                     "message": finding.message + waived,
                                                     "conclusion": finding.conclusion + waived})
            out.append(finding)
        for waiver in self.waivers:
            if waiver.expired(self.today) and (waiver.scope is None or waiver.scope.matches(
                    self.plan.name, dataset, by_rule[waiver.rule].policy if waiver.rule in by_rule else "")):
                target = by_rule.get(waiver.rule)
                note = (f"The waiver approved by {waiver.approver} for {waiver.rule} expired on {waiver.expires} "
                        "and no longer applies; renew it with a new date or fix the finding.")
                expired_notes.append(Finding(
                    policy=target.policy if target else "waivers", rule=f"WAIVER-EXPIRED-{waiver.rule}",
                    title=f"Waiver for {waiver.rule} expired on {waiver.expires}", status="fail",
                    severity=target.severity if target else "medium",
                    citation=target.citation if target else "waiver file",
                    url=target.url if target else "",
                    message=note, conclusion=note,
                    facts={"expires": waiver.expires.isoformat(), "today": self.today.isoformat()},
                    remediation="Renew the waiver (new approval and expiry date) or remove the cause.",
                    waiver=waiver.ref(self.waiver_source)))
        return out + expired_notes

"""JUnit XML: one testsuite per policy, one testcase per rule, for CI dashboards that only read JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from auditor.findings import Finding, GateResult
from auditor.output import Formatter, RenderContext


class JUnitFormatter(Formatter):
    name = "junit"
    suffix = ".xml"

    def render(self, result: GateResult, ctx: RenderContext) -> str:
        by_policy: dict[str, list[Finding]] = defaultdict(list)
        for f in result.findings:
            by_policy[f.policy].append(f)
        # A rule that needs a scan is a failure where it blocks the gate (the dashboard agrees with the exit
        # code) and a skip, marked "needs a scan", where it does not (--plan-only, or below --fail-on).
        blocking = {(f.policy, f.rule) for f in result.blocking() if f.status == "needs_scan"}

        def failed(f: Finding) -> bool:
            return f.status == "fail" or (f.policy, f.rule) in blocking

        root = ET.Element("testsuites", name="auditor check", tests=str(len(result.findings)),
                          failures=str(sum(failed(f) for f in result.findings)),
                          errors=str(sum(f.status == "error" for f in result.findings)))
        for policy, findings in by_policy.items():
            suite = ET.SubElement(root, "testsuite", name=policy, tests=str(len(findings)),
                                  failures=str(sum(failed(f) for f in findings)),
                                  errors=str(sum(f.status == "error" for f in findings)),
                                  skipped=str(sum(f.status in ("waived", "not_applicable", "needs_scan")
                                                  and not failed(f) for f in findings)))
            for f in findings:
                case = ET.SubElement(suite, "testcase", classname=f"auditor.{policy}", name=f"{f.rule}: {f.title}")
                said = f.conclusion or f.message  # the rule's sentence, as the table shows it
                detail = f"{f.citation} ({f.url})\n{said}\nRemediation: {f.remediation}"
                if f.status == "needs_scan":
                    if failed(f):
                        ET.SubElement(case, "failure", message=f"[{f.severity}] needs a scan: {said}",
                                      type="needs-scan").text = detail
                    else:
                        ET.SubElement(case, "skipped", message=f"needs a scan: {said}")
                elif f.status == "fail":
                    ET.SubElement(case, "failure", message=f"[{f.severity}] {said}", type=f.severity).text = detail
                elif f.status == "error":
                    ET.SubElement(case, "error", message=said, type="rule-error").text = detail
                elif f.status == "waived":
                    ET.SubElement(case, "skipped", message=f"waived: {said}")
                elif f.status == "not_applicable":
                    already = said.startswith(("Not applicable", "Does not apply"))
                    ET.SubElement(case, "skipped", message=said if already else f"not applicable: {said}")
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

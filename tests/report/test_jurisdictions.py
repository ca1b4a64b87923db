"""The law table shows the newer jurisdictions only where their policy applies."""

from __future__ import annotations

from pathlib import Path

from auditor.findings import PolicyRef
from auditor.report.jurisdictions import other_law_rows
from auditor.report.sections import law_rows
from tests.report import report_factories as factories


def test_newer_laws_appear_only_where_their_policy_applies(tmp_path: Path) -> None:
    ev = factories.evidence(tmp_path)
    assert [row.law for row in law_rows(ev)] == ["GDPR", "PIPL", "CCPA / CPRA", "HIPAA", "EU AI Act"]
    uk = PolicyRef(id="uk_gdpr", title="UK GDPR", version="2026.12", applies=True, sha256="d" * 64, source="bundled")
    lgpd = uk.model_copy(update={"id": "lgpd", "applies": False})
    with_uk = ev.model_copy(update={"gate": ev.gate.model_copy(update={"policies": [*ev.gate.policies, uk, lgpd]})})
    rows = other_law_rows(with_uk)
    assert [row.law for row in rows] == ["UK GDPR"] and rows[0].applies == "applies"
    assert [row.law for row in law_rows(with_uk)][-1] == "UK GDPR"


def test_korea_and_japan_rows_show_their_grounds_where_their_policy_applies(tmp_path: Path) -> None:
    ev = factories.evidence(tmp_path)
    kr = PolicyRef(id="korea_pipa", title="PIPA", version="2026.12", applies=True, sha256="e" * 64, source="bundled")
    jp = kr.model_copy(update={"id": "japan_appi", "title": "APPI"})
    both = ev.model_copy(update={"gate": ev.gate.model_copy(update={"policies": [*ev.gate.policies, kr, jp]})})
    rows = other_law_rows(both)
    assert [row.law for row in rows] == ["PIPA (Korea)", "APPI (Japan)"]
    assert rows[0].basis == "not recorded" and rows[1].basis == "purpose of use notified or published: not recorded"

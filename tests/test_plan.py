from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.errors import PlanError
from auditor.plan import load_plan
from tests.conftest import EXAMPLE_PLAN, MINI_PLAN


def test_example_plan_loads_and_resolves_dataset_relative_to_plan() -> None:
    doc = load_plan(EXAMPLE_PLAN)
    assert doc.plan.data_subjects.regions == ["EU", "CN", "US-CA"]
    assert doc.dataset_path == EXAMPLE_PLAN.parent / "data" / "tickets.jsonl"
    assert len(doc.sha256) == 64
    assert doc.line_of("legal.gdpr.lawful_basis") == doc.text.splitlines().index(
        "    lawful_basis: legitimate_interests") + 1


def test_cel_view_drops_unset_leaves_but_keeps_sections(write: Callable[[str, str], Path]) -> None:
    doc = load_plan(write("p.yaml", MINI_PLAN))
    view = doc.plan.cel_view()
    assert "pipl" in view["legal"] and "legal_basis" not in view["legal"]["pipl"]
    assert view["assessments"] == {"dpia": "DPIA-1"}


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("  regions: [EU]", "  regions: [EU]\n  region_typo: 1", "p.yaml:6: data_subjects.region_typo: unknown field"),
        ("  target_epsilon: 3.0", "  target_epsilon: -1", "p.yaml:11: privacy.target_epsilon: Input should be greater"),
        ("version: 1", "version: 2", "p.yaml:1: version: Input should be 1"),
        ("  path: data.jsonl", "  path: [a, b]", "p.yaml:9: dataset.path: Input should be a valid string"),
    ],
)
def test_bad_plan_names_file_line_and_field(write: Callable[[str, str], Path], replace: str, by: str,
                                            expected: str) -> None:
    path = write("p.yaml", MINI_PLAN.replace(replace, by))
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).startswith(str(path.parent / expected)), str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_syntax_error_has_line_and_column(write: Callable[[str, str], Path]) -> None:
    path = write("p.yaml", "version: 1\nname: [unclosed\n")
    with pytest.raises(PlanError, match=r"p\.yaml:\d+:\d+: invalid YAML"):
        load_plan(path)


def test_missing_directory_binary_empty_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="not found"):
        load_plan(tmp_path / "nope.yaml")
    with pytest.raises(PlanError, match="is a directory"):
        load_plan(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"version: 1\x00\x01\x02")
    with pytest.raises(PlanError, match="binary"):
        load_plan(tmp_path / "bin.yaml")
    (tmp_path / "empty.yaml").write_text("  \n")
    with pytest.raises(PlanError, match="empty"):
        load_plan(tmp_path / "empty.yaml")
    (tmp_path / "latin.yaml").write_bytes(b"version: 1\nname: caf\xe9\n")
    with pytest.raises(PlanError, match=r"latin\.yaml:2: not valid UTF-8"):
        load_plan(tmp_path / "latin.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(PlanError, match="must be a YAML mapping"):
        load_plan(tmp_path / "list.yaml")


def test_transfer_mechanism_accepts_one_or_several(write: Callable[[str, str], Path]) -> None:
    one = load_plan(write("a.yaml", MINI_PLAN + "transfers: {mechanism: scc}\n"))
    many = load_plan(write("b.yaml", MINI_PLAN + "transfers: {mechanism: [scc, cac_standard_contract]}\n"))
    assert one.plan.transfers.mechanism == "scc"
    assert many.plan.transfers.mechanism == ["scc", "cac_standard_contract"]
    with pytest.raises(PlanError, match=r"transfers\.mechanism"):
        load_plan(write("c.yaml", MINI_PLAN + "transfers: {mechanism: pinky_promise}\n"))

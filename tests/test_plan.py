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


def test_example_plan_protects_people_not_records() -> None:
    # 408 of the example's 2,400 customers have several tickets: record-level DP would protect them at k·ε
    plan = load_plan(EXAMPLE_PLAN).plan
    assert plan.privacy.unit == "user" and plan.dataset.user_id_field == "customer_id"
    assert plan.dataset.user_id_normalisation == "casefold" and plan.privacy.target_delta == "auto"


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


def test_yaml_1_1_booleans_stay_strings(write: Callable[[str, str], Path]) -> None:
    # YAML 1.1 reads bare NO / no / yes / on as booleans; plans (like YAML 1.2) only know true/false.
    text = MINI_PLAN.replace("  path: data.jsonl", "  path: data.jsonl\n  languages: [en, no, on]")
    text += "transfers:\n  storage_region: NO\n  compute_region: no\nmeasures:\n  redaction: true\n"
    doc = load_plan(write("n.yaml", text))
    assert doc.plan.transfers.storage_region == "NO" and doc.plan.transfers.compute_region == "NO"
    assert doc.plan.dataset.languages == ["en", "no", "on"]
    assert doc.plan.measures.redaction is True
    # A bool field still takes yes/no: pydantic parses those strings, so no existing plan changes meaning.
    assert load_plan(write("n2.yaml", MINI_PLAN + "measures:\n  redaction: yes\n")).plan.measures.redaction


def test_yaml_1_1_booleans_stay_strings_in_policies_and_waivers(write: Callable[[str, str], Path]) -> None:
    from auditor.yamlio import load_yaml

    loaded = load_yaml(write("w.yaml", "a: [yes, no, on, off, y, n, true, false, True]\n"), "waiver file")
    assert loaded.data == {"a": ["yes", "no", "on", "off", "y", "n", True, False, True]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINI_PLAN + "privacy:\n  mechanism: none\n", "d.yaml:13: duplicate key 'privacy' (first at line 10)"),
        (MINI_PLAN.replace("  dpia: DPIA-1", "  dpia: DPIA-1\n  dpia: DPIA-2"),
         "d.yaml:8: duplicate key 'dpia' (first at line 7)"),
        ("version: 1\nname: x\ndataset: {path: a, text_fields: [{f: 1, f: 2}]}\n",
         "d.yaml:3: duplicate key 'f' (first at line 3)"),
    ],
)
def test_duplicate_keys_are_an_error_at_any_depth(write: Callable[[str, str], Path], text: str,
                                                  expected: str) -> None:
    path = write("d.yaml", text)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == str(path.parent / expected)


def test_messages_drop_pydantic_tags_and_name_lines(write: Callable[[str, str], Path]) -> None:
    path = write("m.yaml", MINI_PLAN + "transfers:\n  mechanism: [scc, pinky]\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    message = str(info.value)
    # the union's branches are one mistake: the list branch names the wrong item, and nothing "more"
    assert message.startswith(f"{path}:14: transfers.mechanism.1: Input should be 'none'"), message
    assert "literal" not in message and "list[" not in message and "more)" not in message
    path = write("m2.yaml", MINI_PLAN + "transfers:\n  mechanism:\n    - scc\n    - pinky\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"{path}:16: transfers.mechanism.1: Input should be 'none'"), info.value
    path = write("intkey.yaml", MINI_PLAN + "1: x\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}:13: 1: mapping keys must be text (quote the key)"
    # a section whose name is also one of pydantic's tags ("model") is a field the user wrote: kept
    path = write("mb.yaml", MINI_PLAN + "model:\n  base: [1, 2]\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}:14: model.base: Input should be a valid string"


def test_bare_section_heading_is_an_empty_section(write: Callable[[str, str], Path]) -> None:
    doc = load_plan(write("e.yaml", MINI_PLAN + "legal:\nmeasures:\n"))
    assert doc.plan.legal.gdpr.lawful_basis is None and doc.plan.measures.redaction is False
    nested = load_plan(write("e2.yaml", MINI_PLAN + "legal:\n  gdpr:\n"))
    assert nested.plan.legal.gdpr.lawful_basis is None
    path = write("e3.yaml", "version: 1\nname: x\ndataset:\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == f"{path}:3: dataset.path: Field required"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("purpose: testing", "purpse: testing", "p.yaml:3: purpse: unknown field; did you mean 'purpose'?"),
        ("  regions: [EU]", "  regoins: [EU]",
         "p.yaml:5: data_subjects.regoins: unknown field; did you mean 'regions'?"),
        ("  dpia: DPIA-1", "  dpai: DPIA-1", "p.yaml:7: assessments.dpai: unknown field; did you mean 'dpia'?"),
        ("  path: data.jsonl", "  path: data.jsonl\n  txt_fields: [a]",
         "p.yaml:10: dataset.txt_fields: unknown field; did you mean 'text_fields'?"),
        ("purpose: testing", "purpose: testing\nlegal:\n  gdpr:\n    lawfull_basis: consent",
         "p.yaml:6: legal.gdpr.lawfull_basis: unknown field; did you mean 'lawful_basis'?"),
        # nothing close at that level: no guess, and a name from another level is not offered
        ("  regions: [EU]", "  regions: [EU]\n  lawful_basis: consent",
         "p.yaml:6: data_subjects.lawful_basis: unknown field (check the spelling)"),
    ],
)
def test_misspelt_field_suggests_the_closest_allowed_name_at_its_level(write: Callable[[str, str], Path],
                                                                      replace: str, by: str, expected: str) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(write("p.yaml", MINI_PLAN.replace(replace, by)))
    message = str(info.value.message)
    assert message.endswith(expected) and "\n" not in message, message


def test_legal_v2_fields_read_and_normalise(write: Callable[[str, str], Path]) -> None:
    text = MINI_PLAN.replace("  regions: [EU]", "  regions: [EU, cn]\n  per_region: {eu: 900, CN: 100}\n"
                                                "  age_bands: ['13-15', '18+']\n"
                                                "  cn_exported: {year: 2026, non_sensitive: 100, sensitive: 3}")
    text += ("transfers:\n  flows:\n"
             "    - {origin: cn, destination: eu, kind: storage, mechanism: cac_standard_contract}\n"
             "processors: []\nrights: {requests_reach_dataset: true, model_handling: unlearning}\n"
             "automated_decisions: {used: false}\nlegal:\n"
             "  hipaa: {role: covered_entity, permitted_use: irb_waiver}\n"
             "  eu_ai_act: {role: modifier, output_used_in_eu: true}\n"
             "  uk_gdpr: {lawful_basis: recognised_legitimate_interests}\n")
    plan = load_plan(write("v2.yaml", text)).plan
    assert plan.data_subjects.per_region == {"EU": 900, "CN": 100}
    assert plan.data_subjects.cn_exported is not None and plan.data_subjects.cn_exported.sensitive == 3
    flow = plan.transfers.flows[0]
    assert (flow.origin, flow.destination, flow.kind) == ("CN", "EU", "storage")
    view = plan.cel_view()
    assert view["processors"] == [] and "recipients" not in view   # [] is "none", absent is "not declared"
    assert view["legal"]["hipaa"]["role"] == "covered_entity"


@pytest.mark.parametrize(("replace", "by", "field"), [
    ("  regions: [EU]", "  regions: [EU]\n  age_bands: [teenagers]", "data_subjects.age_bands"),
    ("  regions: [EU]", "  regions: [EU]\n  per_region: {EU: -1}", "data_subjects.per_region"),
    ("  regions: [EU]", "  regions: [EU]\n  cn_exported: {year: 2026}", "data_subjects.cn_exported"),
])
def test_legal_v2_fields_refuse_what_cannot_be_meant(write: Callable[[str, str], Path], replace: str, by: str,
                                                     field: str) -> None:
    with pytest.raises(PlanError, match=field.replace(".", r"\.")):
        load_plan(write("bad.yaml", MINI_PLAN.replace(replace, by)))


def test_a_flow_of_an_unknown_kind_names_its_field(write: Callable[[str, str], Path]) -> None:
    with pytest.raises(PlanError, match=r"transfers\.flows\.0\.kind"):
        load_plan(write("bad.yaml", MINI_PLAN + "transfers:\n  flows: [{origin: EU, destination: US, kind: vpn}]\n"))


def test_a_plan_that_records_nothing_fails_with_citations_not_schema_errors(write: Callable[[str, str], Path]) -> None:
    import json

    from click.testing import CliRunner

    from auditor.cli import cli

    bare = write("bare.yaml", "version: 1\nname: bare\ndata_subjects: {regions: [EU, UK, CN, US-CA, US-VA, BR, IN, "
                              "CA-QC, KR, JP]}\ndataset: {path: data.jsonl}\n")
    result = CliRunner().invoke(cli, ["check", str(bare), "--plan-only", "--format", "json"])
    assert result.exit_code == 1, result.output
    failing = [f for f in json.loads(result.stdout)["findings"] if f["status"] == "fail"]
    assert {f["policy"] for f in failing} >= {"gdpr", "uk_gdpr", "pipl", "ccpa", "us_states", "lgpd", "dpdp",
                                              "canada", "eu_ai_act", "korea_pipa", "japan_appi"}
    assert all(any(ch.isdigit() for ch in f["citation"]) and f["url"].startswith("https://") for f in failing)

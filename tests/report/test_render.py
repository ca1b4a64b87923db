"""Rendering: sections and values present, dataset text inert, user templates sandboxed, offline output."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import zlib
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.report.evidence import EvidenceBundle, evidence_schema, load_evidence, write_evidence
from auditor.report.render import md_escape, render_all, render_pdf, render_text, safe_url
from auditor.report.view import SigningInfo
from tests.report.report_factories import PLAN_YAML, SCRIPT, evidence, scan_result, write_plan

SIGNED = SigningInfo(signed=True, key_fingerprint="SHA256:abcd:ef01", key_id="abcdef01")
UNSIGNED = SigningInfo(signed=False)

SECTIONS = ["Identification", "Processing, purposes and lawful basis", "Data provenance", "What the scan found",
            "Findings and waivers", "Necessity and proportionality", "Risks", "Measures, including differential",
            "Model card", "What the trained model leaks", "Verdict", "How to verify this report",
            "Mapping to GDPR Art. 35(7)"]


@pytest.fixture
def ev(tmp_path: Path) -> EvidenceBundle:
    return evidence(tmp_path)


@pytest.mark.parametrize("kind", ["html", "md"])
def test_every_section_and_key_value_is_rendered(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    for section in SECTIONS:
        assert section in text, section
    for value in ["00000000-0000-4000-8000-000000000001", "SHA256:abcd:ef01", "legitimate", "DPIA-2026-07",
                  "2.9 of 8", "Art. 35(7)(a)", "Annex IV §2(d)", "1,712", "TIA in review",
                  "2027-01-31", "0.81", "bundled:minilm", "2.85", "1.1"]:
        assert value in text, (kind, value)
    assert "UNSIGNED" not in text


@pytest.mark.parametrize("kind", ["html", "md"])
def test_unsigned_report_says_so(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, UNSIGNED)  # type: ignore[arg-type]
    assert "UNSIGNED REPORT" in text
    assert "auditor verify" not in text


@pytest.mark.parametrize("kind", ["html", "md"])
def test_the_guarantee_is_stated_in_plain_words_with_what_it_covers(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    assert "The guarantee in plain words" in text
    assert "For any one person (the privacy unit), the released model is (2.9, 4.2e-05)-indistinguishable" in text
    # TPR ≤ e^ε·FPR + δ at FPR 1%: e^2.9 · 0.01 = 18.2%
    assert "correctly identifies at most 18.2% of those who were" in text
    assert "ChaCha20" in text and "public seed 7 covers only the initial weights" in text
    released = text[text.index("Covered by ε"):]
    cell = "</td><td>" if kind == "html" else " | "
    assert f"Held-out accuracy and macro-F1{cell}no" in released
    assert f"and any prediction made with it{cell}yes" in released
    # the split's unit count comes from the secret coins but is released without noise: marked as outside
    assert f"Train / held-out sizes (2,160 / 240 records; 1,944 units trained on){cell}no" in released


def test_no_guarantee_is_stated_without_a_dp_run(tmp_path: Path) -> None:
    for kind in ("html", "md"):
        assert "The guarantee in plain words" not in render_text(kind, evidence(tmp_path, trained=False), SIGNED)


def test_failed_gate_report_says_training_was_refused(tmp_path: Path) -> None:
    text = render_text("html", evidence(tmp_path, verdict="fail"), SIGNED)
    assert "FAIL — 2 finding(s) at or above" in text
    assert "Training was refused: the gate failed." in text
    assert "PIPL-55-PIPIA" in text


def test_html_is_self_contained(ev: EvidenceBundle) -> None:
    html = render_text("html", ev, SIGNED)
    assert "<svg" in html and "<polyline" in html  # ε chart and bar charts are inline
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", html, re.I)
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(h.startswith(("#", "https://")) for h in hrefs)
    assert "@page" in html and "A4" in html


def test_javascript_urls_from_policies_are_not_linked(ev: EvidenceBundle) -> None:
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url("https://eur-lex.europa.eu/x") == "https://eur-lex.europa.eu/x"
    for kind in ("html", "md"):
        assert "javascript:" not in render_text(kind, ev, SIGNED)  # type: ignore[arg-type]


def test_planted_script_in_dataset_text_stays_inert(tmp_path: Path) -> None:
    ev = evidence(tmp_path, scan=scan_result(examples=[SCRIPT, "a|b](http://evil)"]))
    html = render_text("html", ev, SIGNED)
    assert SCRIPT not in html and "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    md = render_text("md", ev, SIGNED)
    assert not re.search(r"(?<!\\)<script", md) and "\\<script>" in md  # CommonMark: a literal "<"
    assert not re.search(r"(?<!\\)\]\(http://evil", md) and "a\\|b\\](http://evil)" in md


def test_markdown_tables_are_tables(ev: EvidenceBundle) -> None:
    md = render_text("md", ev, SIGNED)
    lines = md.splitlines()
    assert lines.count("| Item | Value | Note |") >= 8
    assert "\\|---" not in md and "\\\\" not in md  # macro output is not escaped twice
    assert "| Report id | 00000000-0000-4000-8000-000000000001 |  |" in lines
    assert "| gdpr/GDPR-44-TRANSFER | TIA in review | approved by DPO; expires 2027-01-31 ⚠ |" not in lines
    assert any(line.startswith("| gdpr/GDPR-44-TRANSFER | TIA in review ⚠ |") for line in lines)


def test_md_escape_neutralises_markdown_and_html() -> None:
    assert md_escape("<b>*x*</b> | [l](u) `c` #h\nnext") == \
        "\\<b>\\*x\\*\\</b> \\| \\[l\\](u) \\`c\\` \\#h next"
    assert md_escape(3) == 3
    # no HTML entities where nothing needs them: a reader of report.md sees what the value says
    assert md_escape("a && b, x < 5, y > 3, R&D") == "a && b, x < 5, y > 3, R&D"
    assert md_escape("&lt;b&gt; <!-- c --> <https://x.y>") == "\\&lt;b\\&gt; \\<!-- c --> \\<https://x.y>"
    assert md_escape("> quote") == "\\> quote" and md_escape("- item") == "\\- item" and md_escape("1. a") == "1\\. a"
    assert md_escape("2.9 of 8") == "2.9 of 8" and md_escape("+49 151") == "+49 151"


def test_markdown_report_tables_carry_no_html_entities(tmp_path: Path) -> None:
    masked = "<PERSON len=5 Xxxxx>"
    ev = evidence(tmp_path, scan=scan_result(examples=[masked, "R&D && x<5 | y"]))
    md = render_text("md", ev, SIGNED)
    assert "&lt;" not in md and "&gt;" not in md and "&amp;" not in md
    row = next(line for line in md.splitlines() if "R&D" in line)
    assert "\\<PERSON len=5 Xxxxx>" in row and "R&D && x<5 \\| y" in row


@pytest.mark.parametrize(("body", "message"), [
    ("{{ 'a' * 10**9 }}", "a repeated value longer than"),
    ("{{ [1] * 10**9 }}", "a repeated value longer than"),
    ("{{ 2 ** 5000 }}", "a power larger than"),
    ("{% for i in range(10**9) %}x{% endfor %}", "OverflowError"),
    ("{{ 'a'.ljust(10**9) }}", "a padded string longer"),
    ("{{ '%999999999s' % 1 }}", "format width larger"),
    ("{{ '{:>999999999}'.format(1) }}", "format width larger"),
    ("{% include 'report.html.j2' %}", "recurses without end"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
     "longer than 1,000,000 characters"),
])
def test_user_templates_have_a_budget(tmp_path: Path, ev: EvidenceBundle, monkeypatch: pytest.MonkeyPatch,
                                      body: str, message: str) -> None:
    from auditor.report import sandbox

    monkeypatch.setattr(sandbox, "MAX_OUTPUT", 1_000_000)  # the real budget is 64 MiB: the same check, sooner
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text(body)
    with pytest.raises(InputError, match=r"report.html.j2.*(" + message + ")") as err:
        render_text("html", ev, SIGNED, templates)
    assert "\n" not in err.value.message


def test_the_budget_does_not_refuse_ordinary_big_numbers(tmp_path: Path, ev: EvidenceBundle) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text(
        "{{ '{:,}'.format(123456789) }} {{ 2 ** 64 }} {{ ([0] * 1000) | length }}")
    assert render_text("html", ev, SIGNED, templates).strip() == "123,456,789 18446744073709551616 1000"


def test_user_templates_are_sandboxed(tmp_path: Path, ev: EvidenceBundle) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InputError, match=r"report.html.j2: template refused by the sandbox"):
        render_text("html", ev, SIGNED, templates)
    (templates / "report.html.j2").write_text("{{ evidence.__class__ }}")
    with pytest.raises(InputError):
        render_text("html", ev, SIGNED, templates)
    (templates / "report.html.j2").write_text("{% include '../../../../../../etc/passwd' %}")
    with pytest.raises(InputError, match="template not found"):
        render_text("html", ev, SIGNED, templates)
    (templates / "report.html.j2").write_text("{{ undefined_name }}")
    with pytest.raises(InputError, match=r"report.html.j2:1: template error: 'undefined_name' is undefined"):
        render_text("html", ev, SIGNED, templates)


def test_user_template_overrides_builtin_and_is_autoescaped(tmp_path: Path) -> None:
    ev = evidence(tmp_path, scan=scan_result(examples=[SCRIPT]))
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.html.j2").write_text(
        "<h1>{{ view.title }}</h1>{% for e in view.entities %}{{ e.examples[0] }};{% endfor %}")
    html = render_text("html", ev, SIGNED, templates)
    assert html.startswith("<h1>Audit report — support-ticket-triage</h1>")
    assert "<script" not in html
    # The Markdown template was not overridden: the built-in one is used.
    assert "## 1. Identification" in render_text("md", ev, SIGNED, templates)


def test_evidence_round_trips_and_bad_files_name_the_field(tmp_path: Path, ev: EvidenceBundle) -> None:
    path = write_evidence(ev, tmp_path)
    assert load_evidence(tmp_path) == ev
    data = json.loads(path.read_text())
    data["gate"]["verdict"] = "maybe"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"evidence.json: field gate.verdict: "):
        load_evidence(path)
    path.write_text("{\n  oops")
    with pytest.raises(InputError, match=r"evidence.json:2: not valid JSON"):
        load_evidence(path)
    with pytest.raises(InputError, match="evidence file not found"):
        load_evidence(tmp_path / "nowhere")


def test_evidence_validates_against_its_schema(ev: EvidenceBundle) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = evidence_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(ev.to_json()), schema)
    broken = json.loads(ev.to_json())
    broken["training"]["epsilon"] = "high"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_pdf_is_rendered_from_the_html_without_fetching(ev: EvidenceBundle) -> None:
    html = render_text("html", ev, SIGNED)
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 20_000


def _pdf_objects(pdf: bytes) -> bytes:
    """The PDF's dictionaries, with its (Flate-compressed) object streams opened: what pdffonts reads."""
    parts = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_the_pdf_fetches_nothing_from_outside_the_report(tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "pixel.png"
    Image.new("RGB", (40, 40), "red").save(image)
    html = (f'<html><body><p>x</p><img src="{image.as_uri()}" width="40">'
            f'<img src="https://example.invalid/a.png"></body></html>')
    assert b"/Subtype /Image" not in _pdf_objects(render_pdf(html))
    # the same page with the image as a data: URI does embed it: the check above can fail
    inline = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    assert b"/Subtype /Image" in _pdf_objects(render_pdf(f'<html><body><img src="{inline}"></body></html>'))


def test_cjk_text_is_embedded_as_a_font_subset_in_the_html_and_the_pdf(tmp_path: Path) -> None:
    from auditor.report import fonts

    plan = write_plan(tmp_path).read_text()
    plan = plan.replace("purpose: Route customer support tickets to the right team",
                        "purpose: 客服工单分流 Route tickets").replace("controller: Example GmbH",
                                                                       "controller: 示例有限公司")
    ev = evidence(tmp_path, plan_text=plan)
    files = render_all(ev, SIGNED, ("html", "pdf"))
    html = files["report.html"].decode()
    assert "客服工单分流" in html and "示例有限公司" in html
    face = re.search(r'font-family: "Auditor Noto Sans CJK SC";[^}]*base64,([A-Za-z0-9+/=]+)', html)
    assert face is not None
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(base64.b64decode(face.group(1))))
    covered = {chr(c) for c in font.getBestCmap()}
    assert set("客服工单分流示例有限公司") <= covered
    assert len(covered) < 200  # a subset of what the report shows, not the 65k-glyph font
    assert fonts.cjk_characters(html) and set(fonts.cjk_characters(html)) <= covered
    objects = _pdf_objects(files["report.pdf"])
    assert re.search(rb"/BaseFont /[A-Z]{6}\+Auditor-Noto-Sans-CJK-SC", objects), "no CJK font in the PDF"


def test_a_report_without_cjk_text_embeds_no_font(ev: EvidenceBundle) -> None:
    from auditor.report import fonts

    html = render_text("html", ev, SIGNED)
    if not fonts.cjk_characters(html):
        assert fonts.embed(html) == html
    assert fonts.embed("<html><head></head><body>plain</body></html>") == "<html><head></head><body>plain</body></html>"


def test_charts_escape_labels_and_scale_to_the_data() -> None:
    from auditor.report.charts import bar_chart, epsilon_chart

    svg = str(bar_chart([("<b>X</b>", 30), ("EMAIL", 60)], label="a\"b"))
    assert "<b>" not in svg and "&lt;b&gt;X&lt;/b&gt;" in svg and 'aria-label="a&#34;b"' in svg
    widths = [float(w) for w in re.findall(r'<rect x="190" y="\d+" width="([\d.]+)"', svg)]
    assert widths == [380.0, 190.0]  # largest first, proportional
    curve = str(epsilon_chart([1, 2, 3], [("prv", [0.5, 1.0, 1.5])], 4.0))
    assert "allowed ε = 4" in curve and curve.count("<polyline") == 1


def test_chart_axes_tick_at_round_numbers() -> None:
    from auditor.report.charts import epsilon_chart

    svg = str(epsilon_chart(list(range(1, 12)), [("prv", [0.3 * i for i in range(1, 12)])], 4.0))
    x_labels = re.findall(r'text-anchor="middle" font-size="11">([^<]+)</text>', svg)
    assert x_labels == ["0", "2", "4", "6", "8", "10", "12"]
    y_labels = re.findall(r'text-anchor="end" font-size="11">([^<]+)</text>', svg)
    assert y_labels == ["0", "1", "2", "3", "4", "5"]


@pytest.mark.parametrize("edit", ["infinity", "huge", "nan", "deep", "deep_any"])
def test_hostile_evidence_is_exit_2_before_rendering(tmp_path: Path, ev: EvidenceBundle, edit: str) -> None:
    path = write_evidence(ev, tmp_path)
    text = path.read_text()
    data = json.loads(text)
    first = '"epsilon_opacus": ' + json.dumps(data["training"]["epsilon_per_step"][0]["epsilon_opacus"])
    if edit in ("infinity", "huge"):
        text = text.replace(first, '"epsilon_opacus": ' + ("Infinity" if edit == "infinity" else "1e400"), 1)
    elif edit == "nan":
        text = text.replace('"epsilon": ' + json.dumps(data["training"]["epsilon"]), '"epsilon": NaN', 1)
    elif edit == "deep":
        text = "[" * 100_000 + "]" * 100_000
    else:  # deep inside a free-form field (a finding's facts), within what json itself parses
        text = text.replace('"facts": {', '"facts": {"x": ' + "[" * 900 + "]" * 900 + ", ", 1)
    assert text != path.read_text()
    path.write_text(text)
    with pytest.raises(InputError, match=r"evidence.json") as err:
        load_evidence(tmp_path)
    assert "\n" not in err.value.message


def test_a_template_that_is_a_pipe_is_refused_not_read(tmp_path: Path, ev: EvidenceBundle) -> None:
    import os

    templates = tmp_path / "t"
    templates.mkdir()
    os.mkfifo(templates / "report.html.j2")
    with pytest.raises(InputError, match=r"report.html.j2: not a regular file"):
        render_text("html", ev, SIGNED, templates)


@pytest.mark.parametrize("kind", ["html", "md"])
def test_scope_and_limits_say_what_was_checked_declared_and_not_covered(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    scope = text[text.index("Scope and limits of this audit", text.index("Identification</h2>")
                            if kind == "html" else text.index("## 1. Identification")):]
    scope = scope[:scope.index("Processing, purposes and lawful basis")]
    for expected in ["What auditor checked", "2,400 of 2,400 records", "Declared by the plan, not verified",
                     "DPIA-2026-07", "LIA-2026-03", "ROPA-114", "explicit consent",
                     "declared by the plan; not verified",
                     "checked only against what the scan finds", "Not covered", "data-subject rights handling",
                     "UK GDPR", "no membership-inference or extraction test was run"]:
        assert expected in scope, (kind, expected)
    assert "Encryption at rest" in scope and "Redaction" not in scope  # only what the plan declares


@pytest.mark.parametrize("kind", ["html", "md"])
def test_the_numbers_line_up_with_one_evidence_value_each(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    # q is explained by the value it comes from; n is the people in the data, the split is stated
    assert "q = 0.125" in text and "q = 1/8: the 1,944 people of the training split make ⌈1,944 / 256⌉ = 8" in text
    assert "1,944 people trained on, 216 people held out for evaluation, of 2,160 people" in text
    assert "n = 2,160 people in the data" in text
    # the cover counts only the rules of policies that apply, as section 6 lists them
    assert ("2 pass" in text and "1 waived" in text and "1 not applicable" not in text
            and "and 1 more in policies that do not apply" in text)
    # timings are in the appendix, not among the findings or the model card
    appendix = text.index("Appendix: run details")
    assert text.index("Training wall time") > appendix and text.index("Scan throughput") > appendix
    assert "Throughput" not in text[:appendix]
    assert not re.search(r"(>|\| )Wall time( \||</th>)", text[:appendix])


@pytest.mark.parametrize("kind", ["html", "md"])
def test_categories_and_policies_are_named_in_words(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    assert "Special categories of personal data (GDPR Art. 9)" in text
    cover = text[:text.index("Identification", text.index("Contents") if kind == "html" else 0)]
    assert "GDPR, PIPL" in cover and "gdpr, pipl" not in cover


def test_each_finding_reads_as_a_conclusion_with_its_fix_and_plan_line(tmp_path: Path) -> None:
    from auditor.findings import Finding
    from auditor.report.finding_rows import finding_row

    ev = evidence(tmp_path, verdict="fail")
    failing = Finding(policy="gdpr", rule="GDPR-6-1-F-BALANCING-TEST", title="Legitimate interests need a "
                      "balancing test", status="fail", severity="high", citation="GDPR Art. 6(1)(f)",
                      url="https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_6", message="No balancing test.",
                      facts={"facts.records": 3, "plan.legal.gdpr.lawful_basis": "legitimate_interests",
                             "plan.legal.gdpr.no_such_field": None},
                      remediation="Record the assessment in legal.gdpr.legitimate_interest_assessment.")
    row = finding_row(ev, failing, {"gdpr": "EU General Data Protection Regulation"})
    line = PLAN_YAML.splitlines().index(next(x for x in PLAN_YAML.splitlines() if "lawful_basis" in x)) + 1
    # the field the fix names comes first: that is where the reader has to change the plan
    assert row.plan_line == f"plan.yaml:{line} (legal.gdpr.legitimate_interest_assessment)"
    unnamed = finding_row(ev, failing.model_copy(update={"remediation": "Record it."}), {})
    assert unnamed.plan_line == f"plan.yaml:{line} (legal.gdpr.lawful_basis)"
    assert row.status_word == "Not met" and row.policy_label == "GDPR" and row.fix.startswith("Record")
    met = finding_row(ev, failing.model_copy(update={"status": "pass", "facts": {}}), {})
    assert met.status_word == "Met" and met.fix == "" and met.plan_line == ""
    text = render_text("md", ev, SIGNED)
    assert "### Not met · high · GDPR GDPR-44-TRANSFER" in text and "What to do: Record the transfer" in text


@pytest.mark.parametrize("kind", ["html", "md"])
def test_a_waived_finding_stays_among_the_risks(ev: EvidenceBundle, kind: str) -> None:
    text = render_text(kind, ev, SIGNED)  # type: ignore[arg-type]
    start = text.index("Risks to the rights and freedoms")
    risks = text[start:text.index("Measures, including differential", start)]
    assert "GDPR-44-TRANSFER (waived)" in risks.replace("\\", "") and "TIA in review" in risks


@pytest.mark.parametrize("kind", ["html", "md"])
def test_the_leakage_section_states_results_beside_their_ceilings_and_what_was_not_run(tmp_path: Path,
                                                                                      kind: str) -> None:
    from tests.report.report_factories import leakage_report

    text = render_text(kind, evidence(tmp_path, leakage=leakage_report()), SIGNED)  # type: ignore[arg-type]
    section = text[text.index("11. What the trained model leaks"):text.index("12. Verdict")]
    assert "ε ≥ 0" in section and "the most 100 guesses can prove is 3.49" in section
    assert "certifies nothing" in section and "AUC 0.51" in section and "AUC 0.502" in section
    assert "200 planted: 103 trained on, 97 not" in section
    # TPR at 1% FPR beside what ε = 2.9 allows there: e^2.9 · 0.01 + δ
    assert "0.019 (2 of 103)" in section and f"≤ {math.exp(2.9) * 0.01 + 1 / 24000:.3f}" in section
    for attack in ("attribute inference", "model inversion (reconstruction of training data)"):
        row = section[section.index(attack):]
        assert "not run" in row[:400]
    assert "evidence only against that attack" in section
    if kind == "html":
        assert 'aria-label="ROC curve of membership inference on the canaries"' in section
    released = text[text.index("Covered by ε"):]
    cell = "</td><td>" if kind == "html" else " | "
    assert f"Leakage audit on the canaries (AUC, ROC, TPR, ε lower bound){cell}yes" in released
    assert f"Membership inference on real records (AUC, TPR){cell}no" in released


@pytest.mark.parametrize("kind", ["html", "md"])
def test_limits_name_the_attacks_left_out_when_a_leakage_audit_ran(tmp_path: Path, kind: str) -> None:
    from tests.report.report_factories import leakage_report

    text = render_text(kind, evidence(tmp_path, leakage=leakage_report()), SIGNED)  # type: ignore[arg-type]
    start = text.index("Not covered")
    limits = text[start:text.index("Processing, purposes and lawful basis", start)]
    assert "no membership-inference or extraction test was run" not in limits
    assert "did not run: extraction (regurgitation of training data), attribute inference" in limits


def test_the_split_counts_canaries_apart_from_the_people_in_the_data(tmp_path: Path) -> None:
    from tests.report.report_factories import training_evidence

    ev = evidence(tmp_path)
    t = training_evidence()
    # 100 canaries ride in the training split's units; the data's 2,160 people are split 1,944 / 216 as before
    t = t.model_copy(update={"units": t.units.model_copy(update={"train_units": 2044, "canaries": 100})})
    text = render_text("md", ev.model_copy(update={"training": t}), SIGNED)
    assert ("1,944 people trained on, plus 100 synthetic canaries (each trained on with probability 1/2), "
            "216 people held out for evaluation, of 2,160 people") in text
    assert "the 1,944 people of the training split and 100 canaries make ⌈2,044 / 256⌉ = 8" in text


def test_a_broken_implementation_and_a_missing_audit_are_said_plainly(tmp_path: Path) -> None:
    from tests.report.report_factories import leakage_report

    broken = render_text("md", evidence(tmp_path, leakage=leakage_report(exceeds=True)), SIGNED)
    assert "**FAIL — the canaries prove ε ≥ 3.10 (95% confidence) but the training claims ε = 2.90" in broken
    missing = render_text("md", evidence(tmp_path), SIGNED)
    section = missing[missing.index("11. What the trained model leaks"):missing.index("12. Verdict")]
    assert "No leakage audit ran on this model" in section and "| membership inference |" in section
    assert section.count("| no | not run |") == 4

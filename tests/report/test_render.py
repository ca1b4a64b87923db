"""Rendering: sections and values present, dataset text inert, user templates sandboxed, offline output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.report.evidence import EvidenceBundle, evidence_schema, load_evidence, write_evidence
from auditor.report.render import _refuse_fetch, md_escape, render_pdf, render_text, safe_url
from auditor.report.view import SigningInfo
from tests.report.report_factories import SCRIPT, evidence, scan_result

SIGNED = SigningInfo(signed=True, key_fingerprint="SHA256:abcd:ef01", key_id="abcdef01")
UNSIGNED = SigningInfo(signed=False)

SECTIONS = ["Identification", "Processing, purposes and lawful basis", "Data provenance", "What the scan found",
            "Findings and waivers", "Necessity and proportionality", "Risks", "Measures, including differential",
            "Model card", "Verdict", "How to verify this report", "Mapping to GDPR Art. 35(7)"]


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
    with pytest.raises(ValueError, match="never fetch external resources"):
        _refuse_fetch("https://example.com/font.woff")


def test_charts_escape_labels_and_scale_to_the_data() -> None:
    from auditor.report.charts import bar_chart, epsilon_chart

    svg = str(bar_chart([("<b>X</b>", 30), ("EMAIL", 60)], label="a\"b"))
    assert "<b>" not in svg and "&lt;b&gt;X&lt;/b&gt;" in svg and 'aria-label="a&#34;b"' in svg
    widths = [float(w) for w in re.findall(r'<rect x="190" y="\d+" width="([\d.]+)"', svg)]
    assert widths == [380.0, 190.0]  # largest first, proportional
    curve = str(epsilon_chart([1, 2, 3], [("prv", [0.5, 1.0, 1.5])], 4.0))
    assert "allowed ε = 4" in curve and curve.count("<polyline") == 1


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

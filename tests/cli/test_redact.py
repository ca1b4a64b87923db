"""``auditor redact`` end to end through click: outputs, the gate on the result, bad input, no value leaks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditor.cli import cli
from auditor.redact.model import read_evidence
from tests.scan.planted import CARD, CN_ID, EMAIL, NAME, PLANTED, ROWS, SSN, write_jsonl

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


def leaves_nothing(folder: Path, *expected: str) -> None:
    """Only the files that were there before: no output, no evidence, no temporary file."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    folder = tmp_path_factory.mktemp("redact")
    data = write_jsonl(folder / "tickets.jsonl")
    result = run("redact", str(data), "-o", str(folder / "tickets.red.jsonl"), "--mode", "pseudonym",
                 "--key", str(folder / "redact.key"), "--workers", "1", "--no-progress")
    return folder, result


def test_redact_writes_the_dataset_and_its_evidence(redacted: tuple[Path, Result]) -> None:
    folder, result = redacted
    assert result.exit_code == 0, result.stderr
    evidence = read_evidence(folder / "tickets.red.jsonl.redaction.json")
    assert evidence.mode == "pseudonym" and evidence.records == len(ROWS) and evidence.key_id
    assert "redacted 8 records (4 changed)" in result.stderr and "created the pseudonym key" in result.stderr
    lines = (folder / "tickets.red.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in ROWS]
    assert "<EMAIL_ADDRESS_" in lines[0] and "<CN_RESIDENT_ID_" in lines[1]


def test_no_planted_value_in_the_evidence_or_any_message(redacted: tuple[Path, Result]) -> None:
    folder, result = redacted
    evidence = (folder / "tickets.red.jsonl.redaction.json").read_text(encoding="utf-8")
    key = (folder / "redact.key").read_text(encoding="utf-8").strip()
    for value in PLANTED:
        assert value not in evidence and value not in result.output, value
    assert key not in evidence and key not in result.output
    redacted_text = (folder / "tickets.red.jsonl").read_text(encoding="utf-8")
    assert key not in redacted_text
    for value in (CN_ID, CARD, SSN, EMAIL, NAME):
        assert value not in redacted_text


def test_the_gate_passes_gdpr_5_1_c_on_the_redacted_data_and_fails_a_forged_claim(
        redacted: tuple[Path, Result], tmp_path: Path) -> None:
    folder, _ = redacted
    for name in ("tickets.jsonl", "tickets.red.jsonl", "tickets.red.jsonl.redaction.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    plan = tmp_path / "plan.yaml"

    def check(dataset: str) -> tuple[int, dict[str, str]]:
        plan.write_text(f"version: 1\nname: t\npurpose: triage\ndata_subjects: {{regions: [EU]}}\n"
                        f"dataset: {{path: {dataset}, redaction_evidence: tickets.red.jsonl.redaction.json}}\n"
                        "measures: {redaction: true}\n", encoding="utf-8")
        scanned = run("scan", "--plan", str(plan), "-o", str(tmp_path / "scan.json"), "--workers", "1",
                      "--no-progress")
        assert scanned.exit_code == 0, scanned.stderr
        result = run("check", str(plan), "--scan", str(tmp_path / "scan.json"), "--policy", "gdpr",
                     "--format", "json")
        report = json.loads(result.stdout)
        return result.exit_code, {f["rule"]: f["status"] for f in report["findings"]
                                  if f["rule"].startswith("GDPR-5-1-C")} | {"verified": report["redaction"]["verified"]}

    _, verified = check("tickets.red.jsonl")
    assert verified == {"GDPR-5-1-C-MINIMISATION": "not_applicable", "GDPR-5-1-C-MEASURE-CONFIRMED": "pass",
                        "GDPR-5-1-C-REDACTION-VERIFIED": "pass", "verified": True}
    code, forged = check("tickets.jsonl")      # the source, claimed redacted with the output's evidence
    assert code == 1
    assert forged == {"GDPR-5-1-C-MINIMISATION": "fail", "GDPR-5-1-C-MEASURE-CONFIRMED": "fail",
                      "GDPR-5-1-C-REDACTION-VERIFIED": "fail", "verified": False}


def test_plan_adds_the_special_categories_its_policies_read(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "tickets.jsonl")
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: t\ndata_subjects: {regions: [EU]}\ndataset: {path: tickets.jsonl}\n",
                    encoding="utf-8")
    result = run("redact", "--plan", str(plan), "-o", str(tmp_path / "red.jsonl"), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    evidence = read_evidence(tmp_path / "red.jsonl.redaction.json")
    assert evidence.entities_from == "plan" and "HEALTH" in evidence.entities and "PERSON" in evidence.entities
    assert evidence.replaced["HEALTH"].records == 2 and "HEALTH" not in evidence.residual.entities
    assert "diabetes" not in (tmp_path / "red.jsonl").read_text(encoding="utf-8")
    assert data.read_text(encoding="utf-8").count("diabetes") == 1


def test_entities_option_names_types_or_categories(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl")
    result = run("redact", str(data), "-o", str(tmp_path / "r.jsonl"), "--entities", "government_id,EMAIL_ADDRESS",
                 "--mode", "remove", "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    evidence = read_evidence(tmp_path / "r.jsonl.redaction.json")
    assert evidence.entities_from == "option" and set(evidence.replaced) == {"CN_RESIDENT_ID", "US_SSN",
                                                                             "EMAIL_ADDRESS"}
    assert "PHONE_NUMBER" in evidence.residual.entities     # not asked for: left, and the re-scan says so
    assert "auditor: warning" not in result.stderr          # ... but it is no residual of what was asked


def test_the_worker_pool_keeps_record_order(tmp_path: Path) -> None:
    rows = [{"id": i, "text": f"{r['text']} (ticket {i % 7})"} for i in range(900) for r in [ROWS[i % len(ROWS)]]]
    data = tmp_path / "many.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = run("redact", str(data), "-o", str(tmp_path / "out.jsonl"), "--workers", "2", "--no-progress")
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == list(range(900))
    assert read_evidence(tmp_path / "out.jsonl.redaction.json").engine.workers == 2
    assert not any(EMAIL in r["text"] for r in out)


def test_bad_inputs_are_one_line_exit_2_and_write_nothing(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl")
    out = str(tmp_path / "r.jsonl")
    assert "no such file" in one_line_error(run("redact", str(tmp_path / "nope.jsonl"), "-o", out))
    assert "text field 'body' not found" in one_line_error(run("redact", str(data), "-o", out, "--text-field", "body"))
    assert "would overwrite an input file" in one_line_error(run("redact", str(data), "-o", str(data)))
    assert "ending in .jsonl" in one_line_error(run("redact", str(data), "-o", str(tmp_path / "r.csv")))
    assert "ending in .jsonl" in one_line_error(run("redact", str(data), "-o", str(tmp_path / "r.jsonl.gz")))
    assert "unknown entity type or category 'NAMES'" in one_line_error(
        run("redact", str(data), "-o", out, "--entities", "NAMES"))
    assert "the pseudonym key cannot be" in one_line_error(
        run("redact", str(data), "-o", out, "--mode", "pseudonym", "--key", out))
    leaves_nothing(tmp_path, "t.jsonl")


def test_a_record_that_cannot_be_read_stops_the_run_naming_its_line_only(tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    good = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS)
    data.write_text(good + '{"id": 9, "text": "' + EMAIL + ' is mine\n' + good, encoding="utf-8")
    result = run("redact", str(data), "-o", str(tmp_path / "r.jsonl"), "--workers", "1", "--no-progress")
    line = one_line_error(result)
    assert f"{data}: line 9: invalid JSON" in line and "nothing was written" in line
    assert EMAIL not in result.output
    leaves_nothing(tmp_path, "t.jsonl")


def test_schema_and_help_stay_light() -> None:
    result = run("schema", "redaction")
    assert result.exit_code == 0 and '"residual"' in result.stdout and '"key_id"' in result.stdout
    code = ("import sys; from auditor.cli import cli; import auditor.cli.redact, auditor.redact.chain; "
            "print([m for m in ('presidio_analyzer', 'presidio_anonymizer', 'spacy', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_bad_input_makes_no_pseudonym_key(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl")
    line = one_line_error(run("redact", str(data), "-o", str(tmp_path / "r.jsonl"), "--mode", "pseudonym",
                              "--key", str(tmp_path / "new.key"), "--text-field", "body", "--workers", "1"))
    assert "text field 'body' not found" in line
    leaves_nothing(tmp_path, "t.jsonl")


def test_rows_that_cannot_be_written_back_whole_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_file = tmp_path / "dup.csv"
    csv_file.write_text(f"text,text\n{EMAIL},x\n", encoding="utf-8")
    assert "names a column twice" in one_line_error(
        run("redact", str(csv_file), "-o", str(tmp_path / "dup.red.csv"), "--workers", "1"))
    numbers = tmp_path / "n.parquet"
    pq.write_table(pa.table({"phone": pa.array([4153729061], pa.int64()), "text": ["hello"]}), numbers)
    line = one_line_error(run("redact", str(numbers), "-o", str(tmp_path / "n.red.parquet"), "--text-field",
                              "phone", "--workers", "1"))
    assert "phone is a number with an identifier in it" in line and "4153729061" not in line
    leaves_nothing(tmp_path, "dup.csv", "n.parquet")

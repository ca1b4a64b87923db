"""``auditor scan`` end to end through click: counts, masking, bad input, offline, sampling, --plan."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import cli
from auditor.errors import InputError
from auditor.scan.api import load_scan
from auditor.scan.model import CATEGORIES, ScanResult
from tests.scan.planted import CN_ID, CN_ID_2, EMAIL, PLANTED, ROWS, write_jsonl
from tests.scan.test_read_qa import unblock_fifo

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    folder = tmp_path_factory.mktemp("scan")
    data = write_jsonl(folder / "tickets.jsonl")
    result = run("scan", str(data), "--text-field", "text", "--user-id-field", "user", "-o",
                 str(folder / "scan.json"), "--findings", str(folder / "findings.jsonl"), "--workers", "1",
                 "--no-progress")
    return folder, result


def test_scan_counts_planted_entities(scanned: tuple[Path, Result]) -> None:
    folder, result = scanned
    assert result.exit_code == 0, result.stderr
    scan = load_scan(folder / "scan.json")
    records = {name: stats.records for name, stats in scan.entities.items()}
    assert records["CN_RESIDENT_ID"] == 2
    assert records["PHONE_NUMBER"] == 2
    assert records["EMAIL_ADDRESS"] == 1
    assert records["CREDIT_CARD"] == 1
    assert records["US_SSN"] == 1
    assert records["IP_ADDRESS"] == 1
    assert records["HEALTH"] == 2
    assert records["PERSON"] == 2                    # row 1 in English, row 5 the compound surname 欧阳
    assert scan.records == scan.records_scanned == len(ROWS)
    assert scan.records_with_personal_data == 5       # rows 4, 7 and 8 hold nothing personal
    assert scan.distinct_users == 6
    assert scan.languages == {"en": 5, "zh": 3}
    assert set(scan.categories) == set(CATEGORIES)
    assert scan.categories["government_id"].records == 3
    assert scan.categories["health"].records == 2
    assert scan.categories["phi"].records == 1        # row 5: health + a name and an ID
    assert scan.categories["religion"].records == 0
    assert scan.engine.spacy_model and scan.engine.presidio
    assert "scanned 8 of 8 records" in result.stderr


def test_findings_locate_spans_without_values(scanned: tuple[Path, Result]) -> None:
    folder, _ = scanned
    # the findings file is readable like scan.json (mkstemp alone would leave it 0600)
    assert (folder / "findings.jsonl").stat().st_mode & 0o777 == (folder / "scan.json").stat().st_mode & 0o777
    lines = [json.loads(line) for line in (folder / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(set(line) == {"record", "line", "field", "entity", "start", "end", "score"} for line in lines)
    ids = [(f["record"], f["start"], f["end"]) for f in lines if f["entity"] == "CN_RESIDENT_ID"]
    located = {str(ROWS[record]["text"])[start:end] for record, start, end in ids}
    assert located == {CN_ID, CN_ID_2}


def test_no_planted_value_in_any_output(scanned: tuple[Path, Result], tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    folder, result = scanned
    # A malformed line holding PII must be reported by number only.
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad)
    with bad.open("a", encoding="utf-8") as handle:
        handle.write(f'{{"text": "{EMAIL} {CN_ID}"\n')
    with caplog.at_level(logging.DEBUG):
        second = run("scan", str(bad), "--workers", "1", "--no-progress", "--findings", str(tmp_path / "f.jsonl"))
    assert second.exit_code == 0
    assert json.loads(second.stdout)["read_errors"] == [{"line": 9, "reason": json.loads(second.stdout)[
        "read_errors"][0]["reason"]}]
    outputs = [(folder / "scan.json").read_text(encoding="utf-8"),
               (folder / "findings.jsonl").read_text(encoding="utf-8"), result.stdout, result.stderr,
               second.stdout, second.stderr, (tmp_path / "f.jsonl").read_text(encoding="utf-8"), caplog.text]
    for value in PLANTED:
        for output in outputs:
            assert value not in output


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


def test_bad_inputs_are_one_line_exit_2(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(run("scan", str(tmp_path / "nope.jsonl")))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert "empty" in one_line_error(run("scan", str(tmp_path / "empty.jsonl")))
    (tmp_path / "img.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert "binary" in one_line_error(run("scan", str(tmp_path / "img.jsonl")))
    (tmp_path / "data.bin").write_text("x", encoding="utf-8")
    assert "--format" in one_line_error(run("scan", str(tmp_path / "data.bin")))
    (tmp_path / "d.jsonl").write_text('{"body": "x", "label": 1}\n', encoding="utf-8")
    line = one_line_error(run("scan", str(tmp_path / "d.jsonl"), "--text-field", "text", "-o",
                              str(tmp_path / "out.json")))
    assert "'text' not found" in line and "body, label" in line
    assert not (tmp_path / "out.json").exists()
    (tmp_path / "junk.jsonl").write_text("not json\n{also not\n", encoding="utf-8")
    assert "no records could be read (2 read errors" in one_line_error(run("scan", str(tmp_path / "junk.jsonl")))


def test_scan_works_with_sockets_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.scan import engine, ner, recognizers

    class NoNetwork(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("network disabled by test")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    monkeypatch.setattr(socket, "create_connection", NoNetwork)
    monkeypatch.setattr(engine, "_DETECTOR", None)       # build the whole engine again, offline
    ner.load_spacy.cache_clear()
    recognizers._suffixes.cache_clear()
    result = run("scan", str(write_jsonl(tmp_path / "d.jsonl")), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.entities["EMAIL_ADDRESS"].records == 1 and scan.entities["CN_RESIDENT_ID"].records == 2


def test_sample_reports_estimates(tmp_path: Path) -> None:
    rows = [dict(r, id=i) for i in range(10) for r in ROWS]
    result = run("scan", str(write_jsonl(tmp_path / "d.jsonl", rows)), "--sample", "20", "--seed", "3",
                 "--workers", "1", "--no-progress")
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.sample is not None and scan.sample.sampled_records == 20 and scan.sample.population_records == 80
    assert scan.records == 80 and scan.records_scanned == 20
    ids = scan.entities["CN_RESIDENT_ID"]
    assert ids.estimate_records == pytest.approx(ids.records / 20 * 80)
    assert ids.upper95_records is not None and ids.upper95_records > ids.estimate_records


def test_scan_from_plan(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    rows = [{"text": r["text"], "label": 0, "customer_id": r["user"]} for r in ROWS]
    write_jsonl(tmp_path / "data" / "tickets.jsonl", rows)
    plan = tmp_path / "plan.yaml"
    plan.write_text((REPO / "examples" / "plan.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = run("scan", "--plan", str(plan), "-o", str(tmp_path / "scan.json"), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    scan = load_scan(tmp_path / "scan.json")
    assert scan.distinct_users == 6 and scan.dataset.text_fields == ["text"]
    checked = run("check", str(plan), "--scan", str(tmp_path / "scan.json"))
    assert checked.exit_code in (0, 1), checked.stderr


def test_load_scan_is_light_and_strict(scanned: tuple[Path, Result], tmp_path: Path) -> None:
    folder, _ = scanned
    code = ("import sys; from pathlib import Path; from auditor.scan.api import load_scan; "
            f"load_scan(Path({str(folder / 'scan.json')!r})); "
            "heavy = [m for m in ('presidio_analyzer', 'spacy', 'torch', 'hyperscan') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    (tmp_path / "bad.json").write_text('{"schema_version": 1}', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json"):
        load_scan(tmp_path / "bad.json")


def test_workers_and_dedup_give_the_same_counts(tmp_path: Path) -> None:
    rows = [dict(r, id=i) for i in range(100) for r in ROWS]          # 800 records, 8 distinct texts
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    results = []
    for workers in ("1", "2"):
        result = run("scan", str(data), "--workers", workers, "--no-progress", "--findings",
                     str(tmp_path / f"f{workers}.jsonl"))
        assert result.exit_code == 0, result.stderr
        results.append(ScanResult.model_validate_json(result.stdout))
    one, two = results
    assert two.engine.workers == 2
    assert {k: (v.count, v.records) for k, v in one.entities.items()} == \
           {k: (v.count, v.records) for k, v in two.entities.items()}
    assert one.entities["CN_RESIDENT_ID"].records == 200
    assert (tmp_path / "f1.jsonl").read_text(encoding="utf-8") == (tmp_path / "f2.jsonl").read_text(encoding="utf-8")


def test_gzip_csv_and_parquet_through_the_cli(tmp_path: Path) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("id,body\n1,mail me at " + EMAIL + "\n2,nothing here\n")
    result = run("scan", str(tmp_path / "d.csv.gz"), "--text-field", "body", "--workers", "1", "--no-progress")
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.dataset.format == "csv" and scan.dataset.compressed and scan.records == 2
    assert scan.entities["EMAIL_ADDRESS"].records == 1

    pq.write_table(pa.table({"chat": [[{"content": f"id {CN_ID}"}, {"content": "ok"}]]}), tmp_path / "d.parquet")
    result = run("scan", str(tmp_path / "d.parquet"), "--text-field", "chat.content", "--workers", "1",
                 "--no-progress")
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.entities["CN_RESIDENT_ID"].fields == ["chat.content"]


# --- QA pass: outputs, damaged inputs, long texts, keys from the data ---------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["-o", "adir"], "adir: is a directory; the scan result needs a file path"),
    (["-o", "afile/x.json"], "afile is a file, not a folder"),
    (["-o", ""], "not a file name for the scan result"),
    (["--findings", "adir"], "adir: is a directory; the findings file needs a file path"),
    (["--findings", "afile/x.jsonl"], "afile is a file, not a folder"),
    (["-o", "adir", "--findings", "f.jsonl"], "adir: is a directory"),
    (["-o", "v.jsonl"], "the scan result would overwrite an input file"),
    (["--findings", "v.jsonl"], "the findings file would overwrite an input file"),
    (["--findings", "./sub/../v.jsonl"], "the findings file would overwrite an input file"),
    (["-o", "same.json", "--findings", "same.json"], "--findings and -o name the same file"),
])
def test_bad_output_paths_fail_before_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               args: list[str], message: str) -> None:
    from auditor.scan import scanner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    dataset = write_jsonl(tmp_path / "v.jsonl")
    before = dataset.read_bytes()

    def no_drive(*_: object, **__: object) -> None:
        raise AssertionError("the scan started before its outputs were checked")

    monkeypatch.setattr(scanner, "detect", no_drive)
    line = one_line_error(run("scan", "v.jsonl", "--workers", "1", "--no-progress", *args))
    assert message in line
    assert dataset.read_bytes() == before
    assert not (tmp_path / "f.jsonl").exists() and not (tmp_path / "same.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "sub", "v.jsonl"]


def test_unwritable_output_folder_is_exit_2(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        target = Path("/proc/auditor-test/x.json")           # even root cannot create files in /proc
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = tmp_path / "ro" / "x.json"
    data = write_jsonl(tmp_path / "d.jsonl")
    line = one_line_error(run("scan", str(data), "--no-progress", "-o", str(target)))
    assert line.startswith(f"auditor: {target}: cannot write the scan result: ")


def test_library_scan_refuses_findings_over_the_dataset(tmp_path: Path) -> None:
    from auditor.scan.api import scan_dataset

    data = write_jsonl(tmp_path / "d.jsonl")
    before = data.read_bytes()
    with pytest.raises(InputError, match="would overwrite an input file"):
        scan_dataset(data, text_fields=["text"], findings_path=data, workers=1, progress=False)
    assert data.read_bytes() == before


def test_lone_surrogate_user_id_is_counted(tmp_path: Path) -> None:
    data = tmp_path / "s.jsonl"
    data.write_text('{"text": "hi", "uid": "u\\ud800"}\n{"text": "yo", "uid": "u\\ud801"}\n'
                    '{"text": "hey", "uid": "u\\ud800"}\n', encoding="utf-8")
    result = run("scan", str(data), "--user-id-field", "uid", "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert ScanResult.model_validate_json(result.stdout).distinct_users == 2


def test_truncated_gzip_scans_what_was_read(tmp_path: Path) -> None:
    import gzip

    whole = gzip.compress(b'{"text": "x"}\n' * 20000)
    (tmp_path / "t.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    result = run("scan", str(tmp_path / "t.jsonl.gz"), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    scan = ScanResult.model_validate_json(result.stdout)
    assert 0 < scan.records < 20000 and scan.read_errors_total == 1
    assert scan.read_errors[0].line == scan.records + 1 and "truncated" in scan.read_errors[0].reason


def test_escaped_eof_error_is_exit_3_and_debug_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    api = importlib.import_module("auditor.scan.api")  # the module the CLI imports (another test reloads it)

    def eof(*_: object, **__: object) -> None:
        raise EOFError("simulated")

    monkeypatch.setattr(api, "scan_dataset", eof)
    data = write_jsonl(tmp_path / "d.jsonl")
    result = CliRunner().invoke(cli, ["scan", str(data), "--no-progress"])
    assert result.exit_code == 3 and "internal error: EOFError" in result.stderr
    with pytest.raises(RuntimeError, match="unexpected EOFError") as info:   # not click's "Aborted!"
        run("--debug", "scan", str(data), "--no-progress")
    assert isinstance(info.value.__cause__, EOFError)


def test_damaged_parquet_is_exit_2_or_a_counted_row_group(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a"] * 100}), tmp_path / "p.parquet")
    data = (tmp_path / "p.parquet").read_bytes()
    (tmp_path / "tr.parquet").write_bytes(data[: len(data) // 2])
    line = one_line_error(run("scan", str(tmp_path / "tr.parquet"), "--no-progress"))
    assert f"{tmp_path / 'tr.parquet'}: not a readable Parquet file" in line

    path = tmp_path / "cp.parquet"
    pq.write_table(pa.table({"text": [f"mail x{i}@example.com" for i in range(300)]}), path, row_group_size=100,
                   compression="snappy")
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    start = (column.dictionary_page_offset or column.data_page_offset) + 30
    raw = bytearray(path.read_bytes())
    raw[start:start + 40] = b"\xab" * 40
    path.write_bytes(bytes(raw))
    result = run("scan", str(path), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.records == 200 and scan.entities["EMAIL_ADDRESS"].records == 200
    assert [(e.line, "row group 0" in e.reason) for e in scan.read_errors] == [(1, True)]


def test_text_past_spacy_max_length_is_scanned_to_the_end(tmp_path: Path) -> None:
    # Long words keep the model's work small; the text is still past spaCy's 1,000,000-character limit.
    tail = "We met Jane Doe in Berlin. Write to jane.doe@example.com today."
    text = ("x" * 999 + " ") * 1001 + tail
    data = write_jsonl(tmp_path / "l.jsonl", [{"text": text}])
    result = run("scan", str(data), "--workers", "1", "--no-progress", "--findings", str(tmp_path / "f.jsonl"))
    assert result.exit_code == 0, result.stderr
    scan = ScanResult.model_validate_json(result.stdout)
    assert {k: v.count for k, v in scan.entities.items()} == {"EMAIL_ADDRESS": 1, "PERSON": 1, "LOCATION": 1}
    found = {f["entity"]: text[f["start"]:f["end"]] for f in map(json.loads, (tmp_path / "f.jsonl").open())}
    assert found == {"PERSON": "Jane Doe", "LOCATION": "Berlin", "EMAIL_ADDRESS": "jane.doe@example.com"}


def test_object_valued_text_field_is_scanned(tmp_path: Path) -> None:
    data = tmp_path / "o.jsonl"
    data.write_text(f'{{"text": {{"a": "mail {EMAIL}"}}}}\n', encoding="utf-8")
    result = run("scan", str(data), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    scan = ScanResult.model_validate_json(result.stdout)
    assert scan.records_with_personal_data == 1 and scan.entities["EMAIL_ADDRESS"].fields == ["text"]


def test_parquet_decimal_user_ids_are_counted(tmp_path: Path) -> None:
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["x", "y", "z", "w"], "uid": [decimal.Decimal(1), decimal.Decimal(2),
                                                                  decimal.Decimal(1), None]}),
                   tmp_path / "u.parquet")
    result = run("scan", str(tmp_path / "u.parquet"), "--user-id-field", "uid", "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert ScanResult.model_validate_json(result.stdout).distinct_users == 2


def test_keys_from_the_data_are_masked_in_the_field_list(tmp_path: Path) -> None:
    data = tmp_path / "k.jsonl"
    data.write_text('{"text_4539148803436467": 1, "data": {"jane.doe": {"phone_4155550132": 1}}}\n',
                    encoding="utf-8")
    line = one_line_error(run("scan", str(data), "--no-progress"))
    assert line.endswith("fields present: text_<CREDIT_CARD>, data (and 2 more not shown)")
    assert "4539148803436467" not in line and "jane" not in line and "4155550132" not in line


def test_csv_read_errors_name_the_physical_line(tmp_path: Path) -> None:
    data = tmp_path / "b.csv"
    data.write_bytes(b'id,text\n1,ok\n2,\xff bad\n3,"a\nb"\n4,x,extra\n')
    result = run("scan", str(data), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert [e.line for e in ScanResult.model_validate_json(result.stdout).read_errors] == [3, 6]


def test_pipe_and_folder_messages(tmp_path: Path) -> None:
    import os

    (tmp_path / "nosuffix").mkdir()
    assert one_line_error(run("scan", str(tmp_path / "nosuffix"))).endswith("is a folder, not a dataset file")
    if hasattr(os, "mkfifo"):  # `cat x | auditor scan /dev/stdin`: a pipe, refused without blocking on it
        os.mkfifo(tmp_path / "pipe")
        unblock_fifo(tmp_path / "pipe")
        line = one_line_error(run("scan", str(tmp_path / "pipe"), "--format", "jsonl", "--no-progress"))
        assert "not a regular file" in line and "pipe is not supported" in line


@pytest.mark.parametrize("command", [["scan", "--plan"], ["train"], ["audit"]])
def test_a_missing_dataset_names_the_plan_field_and_line(command: list[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: x\ndata_subjects: {regions: [EU]}\ndataset:\n  path: gone.jsonl\n")
    result = CliRunner().invoke(cli, [*command, str(plan), *(["--out", str(tmp_path / "o")] if len(command) == 1
                                                             else [])])
    assert result.exit_code == 2, result.output
    assert result.output == (f"auditor: {plan}:5: dataset.path: {tmp_path / 'gone.jsonl'} not found (dataset.path "
                             "is relative to the plan's folder)\n")
    assert not (tmp_path / "o").exists()
    (tmp_path / "gone.jsonl").mkdir()
    folder = CliRunner().invoke(cli, [*command, str(plan)])
    assert folder.exit_code == 2 and folder.output.strip().endswith("gone.jsonl is a folder, not a dataset file")

"""Every input is bounded in time and memory: YAML bombs, deep nesting, huge scalars, pipes and devices are
exit 2 with the file and line, never a hang or an internal error."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.errors import InputError
from auditor.plan import load_plan
from auditor.policy.load import load_policy
from auditor.policy.waivers import load_waivers

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "message"), [
    (LAUGHS, r"doc.yaml:\d+: the document expands to more than 200,000 values"),
    ("a: &a [*a]\n", r"doc.yaml:1: .*(nested more than 64 levels|alias refers to itself)|doc.yaml:1:.*invalid YAML"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", r"doc.yaml:1: nested more than 64 levels deep"),
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", r"doc.yaml:1:\d+: invalid YAML: exceeded maximum nesting depth"),
    ("version: " + "9" * 5000 + "\n", r"doc.yaml:1: an integer of 5,000 digits \(at most 100\)"),
    ("name: '" + "a" * (1024 * 1024 + 1) + "'\n", r"doc.yaml:1: a value of 1,048,577 characters is longer"),
])
@pytest.mark.parametrize("loader", [load_plan, load_policy, load_waivers])
def test_hostile_yaml_is_bounded_and_exit_2(tmp_path: Path, text: str, message: str, loader: object) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        loader(path)  # type: ignore[operator]
    assert "\n" not in err.value.message


def test_a_document_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    with path.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)  # sparse: 17 MiB without writing them
    with pytest.raises(InputError, match=r"plan.yaml: training plan is 17,825,792 bytes, more than the 16,777,216"):
        load_plan(path)


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize("args", [
    lambda p, fifo: ["check", str(fifo)],
    lambda p, fifo: ["check", str(p), "--scan", str(fifo)],
    lambda p, fifo: ["check", str(p), "--policy", str(fifo)],
    lambda p, fifo: ["check", str(p), "--waivers", str(fifo)],
    lambda p, fifo: ["check", "/dev/zero"],
    lambda p, fifo: ["check", str(p), "--scan", "/dev/zero"],
])
def test_pipes_and_devices_are_refused_not_read(tmp_path: Path, args: object) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nname: t\ndataset: {path: d.jsonl}\n", encoding="utf-8")
    fifo = _fifo(tmp_path)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(
        CliRunner().invoke(cli, args(plan, fifo))), daemon=True)  # type: ignore[operator]
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader before failing, so the test run does not hang
        with open(fifo, "wb"):
            pass
        pytest.fail("blocked on a pipe")
    outcome = result[0]
    assert outcome.exit_code == 2, outcome.output  # type: ignore[attr-defined]
    assert "not a regular file" in outcome.output and "Traceback" not in outcome.output  # type: ignore[attr-defined]


POLICY = """id: costly
title: t
version: "1"
rules:
  - id: COSTLY-1
    title: t
    citation: {{ref: "Art. 1", url: "https://example.org"}}
    severity: high
    require: '{expr}'
    explain: x
    remediation: y
"""


@pytest.mark.parametrize(("expr", "message"), [
    (" || ".join(["facts.dp_planned"] * 50_000), r"more than 4,096"),
    (" || ".join(["true"] * 300), r"more than 256 operators"),
    ("[" + ",".join(["1"] * 1000) + "].map(a, [1].map(b, [2].map(c, c))).size() > 0",
     r"a list literal of more than 64 items"),
    ("[1].map(a, [1].map(b, [2].map(c, c))).size() > 0", r"comprehensions nested more than 2 deep"),
])
def test_a_condition_over_its_evaluation_budget_is_refused_at_load(tmp_path: Path, expr: str, message: str) -> None:
    path = tmp_path / "costly.yaml"
    path.write_text(POLICY.format(expr=expr), encoding="utf-8")
    with pytest.raises(InputError, match=r"costly.yaml:\d+: .*COSTLY-1.*" + message):
        load_policy(path)  # refused at load: nothing is evaluated


def test_plan_lists_are_bounded_so_conditions_over_them_stay_cheap(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    regions = ", ".join(f"R{i}" for i in range(65))
    path.write_text(f"version: 1\nname: t\ndata_subjects: {{regions: [{regions}]}}\ndataset: {{path: d.jsonl}}\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"plan.yaml:3: data_subjects.regions: .*at most 64"):
        load_plan(path)


def _gzip(path: Path, chunk: bytes, count: int) -> Path:
    import gzip

    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(b'{"text": "first"}\n')
        for _ in range(count):
            handle.write(chunk)
        handle.write(b'{"text": "after the bomb"}\n')
    return path


def test_a_gzip_of_blank_lines_stops_with_one_problem(tmp_path: Path) -> None:
    from auditor.scan.read import RecordStream

    data = _gzip(tmp_path / "bomb.jsonl.gz", b"\n" * (1 << 20), 20)  # 20 MiB of blank lines, ~20 KB on disk
    assert data.stat().st_size < 200_000
    stream = RecordStream(data, "jsonl", True, ["text"], None)
    records = list(stream)
    assert len(records) == 1 and stream.problems_total == 1
    assert "more than 100,000 blank lines in a row" in stream.problems[0].reason


def test_a_gzip_that_expands_past_the_ratio_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.scan import read
    from auditor.scan.read import RecordStream

    monkeypatch.setattr(read, "MIN_EXPANDED_BYTES", 1 << 20)  # the floor, lowered so the ratio decides
    data = _gzip(tmp_path / "bomb.jsonl.gz", b"a" * (1 << 20), 40)  # one 40 MiB line, ~40 KB on disk
    stream = RecordStream(data, "jsonl", True, ["text"], None)
    assert len(list(stream)) == 1
    assert "expands to more than 200 times the file's size" in stream.problems[0].reason


def test_keys_that_may_be_names_are_counted_not_shown(tmp_path: Path) -> None:
    data = tmp_path / "canary.jsonl"
    data.write_text('{"Quackenbush": "x", "meta": {"Okonkwo": 1, "smith": 2, "created_at": 3}, "subject": "y"}\n',
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(data), "--text-field", "nosuchfield", "--no-progress"])
    assert result.exit_code == 2
    assert "fields present: meta, meta.created_at, subject (and 3 more not shown)" in result.output
    for name in ("Quackenbush", "Okonkwo", "smith"):
        assert name not in result.output
    headerless = tmp_path / "h.csv"
    headerless.write_text("Quackenbush,jane@example.org,3\nrefund please,bob@example.org,2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(headerless), "--text-field", "text", "--no-progress"])
    assert result.exit_code == 2 and "Quackenbush" not in result.output and "jane" not in result.output


def test_finding_locations_name_no_key_that_may_be_a_person(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"msg": {"smith": "mail jane.roe@example.org", "subject": "mail bob.poe@example.org"}}\n',
                    encoding="utf-8")
    findings = tmp_path / "f.jsonl"
    result = CliRunner().invoke(cli, ["scan", str(data), "--text-field", "msg", "--findings", str(findings),
                                      "-o", str(tmp_path / "s.json"), "--no-progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    written = findings.read_text() + (tmp_path / "s.json").read_text()
    assert "smith" not in written and "msg.subject" in written and "msg.<key#0>" in written

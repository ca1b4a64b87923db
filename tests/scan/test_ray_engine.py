"""The Ray engine: the same scan.json, findings and redaction as the local engine; errors as our one line; no
record text in any log, error or Ray file; an embedded instance by default, an existing cluster by address."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditor.cli import cli
from auditor.errors import AuditorError, InternalError
from auditor.scan.api import load_scan
from auditor.scan.drive import Progress
from auditor.scan.engines import ENGINES, RunOptions, Source, make_engine
from tests.scan.planted import EMAIL, NAME, PLANTED, ROWS

pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[2]
#: What every scan result may differ in between engines: when and how fast it ran, and the engine itself.
RUN_FIELDS = {"engine", "started_at", "duration_s", "records_per_s", "mb_per_s"}
#: A value no log may hold: it is in the data and in a worker's exception message.
TELLTALE = "Zebulon Quaxworth-Ymir"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_corpus(path: Path, n: int = 2400) -> Path:
    """A few thousand records: planted personal data in English and Chinese, repeats (de-duplication),
    nested fields, records without text, people with several records, and unreadable lines."""
    lines = []
    for i in range(n):
        base = ROWS[i % len(ROWS)]
        text = str(base["text"]) if i % 3 == 0 else f"{base['text']} Ticket {i}, see note {i * 7 % 101}."
        row: dict[str, Any] = {"id": i, "user": f"U{i % 450}", "text": text}
        if i % 5 == 0:
            row["meta"] = {"note": f"Ask {NAME} to call back about case {i}" if i % 10 == 0 else "no note"}
        if i % 97 == 0:
            row["text"] = ""
        lines.append(json.dumps(row, ensure_ascii=False))
        if i in (300, 1700):
            lines.append('{"id": broken')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def comparable(scan_json: Path) -> dict[str, Any]:
    data = json.loads(scan_json.read_text(encoding="utf-8"))
    assert data["engine"]["engine"] in ENGINES
    return {k: v for k, v in data.items() if k not in RUN_FIELDS}


def test_ray_scan_gives_the_local_scan_json_and_findings(tmp_path: Path, ray_instance: Path) -> None:
    data = write_corpus(tmp_path / "tickets.jsonl")
    outputs = {}
    for engine in ("local", "ray"):
        result = run("scan", str(data), "--text-field", "text", "--text-field", "meta.note", "--user-id-field",
                     "user", "--workers", "2", "--engine", engine, "--no-progress", "-o",
                     str(tmp_path / f"{engine}.json"), "--findings", str(tmp_path / f"{engine}.findings.jsonl"))
        assert result.exit_code == 0, result.stderr
        outputs[engine] = comparable(tmp_path / f"{engine}.json")
    local, ray = outputs["local"], outputs["ray"]
    assert local == ray
    assert local["records"] == 2400 and local["read_errors_total"] == 2
    assert [e["line"] for e in local["read_errors"]] == [302, 1703]
    assert set(local["entities"]["PERSON"]["fields"]) == {"text", "meta.note"}
    assert local["users"]["distinct"] == 450 and local["records_with_personal_data"] > 1000
    findings = (tmp_path / "local.findings.jsonl").read_bytes()
    assert findings and findings == (tmp_path / "ray.findings.jsonl").read_bytes()
    engine = load_scan(tmp_path / "ray.json").engine
    assert (engine.engine, engine.workers) == ("ray", 2)


def test_ray_redaction_writes_the_local_bytes(tmp_path: Path, ray_instance: Path) -> None:
    import csv

    for suffix in ("jsonl", "csv"):
        data = tmp_path / f"in.{suffix}"
        if suffix == "csv":
            with data.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "id", "user"])
                for row in ROWS * 30:
                    writer.writerow([row["text"], row["id"], row["user"]])
        else:
            write_corpus(data, 600)
            data.write_text("".join(line + "\n" for line in data.read_text().splitlines() if "broken" not in line))
        evidence = {}
        for engine in ("local", "ray"):
            out = tmp_path / engine / f"out.{suffix}"
            out.parent.mkdir(exist_ok=True)
            result = run("redact", str(data), "-o", str(out), "--workers", "2", "--engine", engine,
                         "--no-progress")
            assert result.exit_code == 0, result.stderr
            evidence[engine] = {k: v for k, v in json.loads(
                (out.parent / f"out.{suffix}.redaction.json").read_text()).items()
                if k not in RUN_FIELDS | {"created_at"}}
        assert (tmp_path / "local" / f"out.{suffix}").read_bytes() == (tmp_path / "ray" / f"out.{suffix}").read_bytes()
        assert evidence["local"] == evidence["ray"]
        assert EMAIL not in (tmp_path / "ray" / f"out.{suffix}").read_text(encoding="utf-8")


def test_a_read_error_inside_the_ray_reader_is_our_one_line_exit_2(tmp_path: Path, ray_instance: Path) -> None:
    data = write_corpus(tmp_path / "tickets.jsonl", 600)  # unreadable line 302: past the driver's first look
    result = run("redact", str(data), "-o", str(tmp_path / "out.jsonl"), "--engine", "ray", "--workers", "1",
                 "--no-progress")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"auditor: {data}: line 302: invalid JSON (Expecting value at column 8); a record that cannot be read "
        "cannot be redacted, so nothing was written"]
    assert not (tmp_path / "out.jsonl").exists()


def failing_task(job: tuple[list[str], bool]) -> list[Any]:
    """A worker task that fails the way a library might: with the text it choked on in its message."""
    texts, _ = job
    for text in texts:
        if TELLTALE in text:
            raise ValueError(f"cannot handle {text!r}")
    return [None] * len(texts)


def test_a_worker_error_surfaces_without_the_record_text(tmp_path: Path, ray_instance: Path,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actors cannot import tests/
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps({"text": f"row {i}" + (f" from {TELLTALE}" if i == 900 else "")}) + "\n"
                            for i in range(1200)), encoding="utf-8")
    source = Source(path=data, fmt="jsonl", compressed=False, text_fields=("text",))
    reading = make_engine("ray", workers=2).open(source, None)
    with pytest.raises(AuditorError) as caught:
        reading.run(failing_task, False, lambda *_: None, Progress(False, None, ""), RunOptions(ner=False))
    assert isinstance(caught.value, InternalError) and caught.value.exit_code == 3
    assert "ValueError" in caught.value.message and TELLTALE not in caught.value.message
    assert TELLTALE not in "".join(capfd.readouterr())
    # nor in anything Ray wrote: its logs, its task-error records, its spilled objects
    for path in ray_instance.rglob("*"):
        if path.is_file() and not path.is_socket():
            with path.open("rb") as handle:
                assert TELLTALE.encode() not in handle.read(), path


def test_engine_choices_and_what_ray_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.cli.options import ENGINE_CHOICES

    assert ENGINE_CHOICES == ENGINES
    data = write_corpus(tmp_path / "t.jsonl", 10)
    for args, message in ((["--engine", "ray", "--sample", "5"], "--sample runs on the local engine"),
                          (["--ray-address", "127.0.0.1:1"], "--ray-address is for --engine ray")):
        result = run("scan", str(data), "--no-progress", *args)
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    monkeypatch.setitem(sys.modules, "auditor.scan.engines.ray_data", None)  # as if Ray were not installed
    result = run("scan", str(data), "--no-progress", "--engine", "ray")
    assert result.exit_code == 2 and "pip install 'auditor[ray]'" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scan_subprocess(data: Path, out: Path, *extra: str, env: dict[str, str] | None = None,
                     ) -> subprocess.CompletedProcess[str]:
    own = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}  # see the cluster test
    env = {**own, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "auditor", "scan", str(data), "--engine", "ray", "--workers", "1",
                           "--no-progress", "-o", str(out), *extra], capture_output=True, text=True, env=env,
                          timeout=300, cwd=data.parent)


def test_without_an_address_an_embedded_instance_runs_quietly_and_leaves_nothing(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "t.jsonl", 200)
    before = set(Path(tempfile_dir()).glob("auditor-ray-*"))
    done = _scan_subprocess(data, tmp_path / "scan.json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scanned 200 of 200 records"), done.stderr
    assert not any(value in done.stderr + done.stdout for value in PLANTED)
    assert set(Path(tempfile_dir()).glob("auditor-ray-*")) == before  # its session folder is gone
    assert load_scan(tmp_path / "scan.json").engine.engine == "ray"


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_with_an_address_it_joins_a_running_cluster(tmp_path: Path) -> None:
    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    folder = Path(tempfile_dir()) / f"ray-c-{port}"
    # A HOME of the test's own: `ray start` turns on token authentication when HOME/.ray holds a token (an
    # earlier local Ray may have left one); this loopback-only head runs without
    home = tmp_path / "home"
    home.mkdir()
    # and no RAY_AUTH_* from this process (a Ray started here sets RAY_AUTH_MODE=token in its environment)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}, "RAY_USAGE_STATS_ENABLED": "0",
           "HOME": str(home)}
    head = subprocess.Popen([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={folder}", "--block"],
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "head.log").open("w"), env=env)
    try:
        data = write_corpus(tmp_path / "t.jsonl", 200)
        deadline = time.monotonic() + 60
        while True:  # the head is up once its GCS port accepts connections
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and head.poll() is None, (tmp_path / "head.log").read_text()[-2000:]
            time.sleep(0.5)
        done = _scan_subprocess(data, tmp_path / "scan.json", "--ray-address", f"127.0.0.1:{port}",
                                env={"HOME": str(home)})
        assert done.returncode == 0, done.stderr
        local = run("scan", str(data), "--workers", "1", "--no-progress", "-o", str(tmp_path / "local.json"))
        assert local.exit_code == 0
        assert comparable(tmp_path / "scan.json") == comparable(tmp_path / "local.json")
        # the cluster outlives the scan: it only joined
        assert head.poll() is None
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_wrong_address_is_one_line(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "t.jsonl", 10)
    done = _scan_subprocess(data, tmp_path / "scan.json", "--ray-address", f"127.0.0.1:{_free_port()}")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: cannot start or join the Ray cluster"), done.stderr

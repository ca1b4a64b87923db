"""The privacy ledger: composition across runs, hash chain, locking, and no under-reporting after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.errors import GateFailed, InputError
from auditor.privacy.ledger import Ledger

SHA = "ab" * 32


def _reserve(ledger: Ledger, run: str, eps: float, max_eps: float | None = 8.0) -> None:
    ledger.reserve(dataset_sha256=SHA, run_id=run, epsilon=eps, delta=1e-5, accountant="prv", plan_sha256=None,
                   max_epsilon_allowed=max_eps, bound_by="gdpr/GDPR-DP-BASELINE")


def test_reserve_then_settle_composes_spent_and_open_reservations(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 3.0)
    totals = ledger.totals(SHA)
    assert (totals.runs, totals.epsilon_reserved, totals.epsilon_spent, totals.composed_epsilon) == (1, 3.0, 0, 3.0)
    ledger.settle(dataset_sha256=SHA, run_id="r1", epsilon=2.5, delta=1e-5, accountant="prv", plan_sha256=None)
    _reserve(ledger, "r2", 3.0)
    totals = ledger.totals(SHA, 8.0)
    assert totals.runs == 2 and totals.epsilon_spent == 2.5 and totals.epsilon_reserved == 3.0
    assert totals.composed_epsilon == pytest.approx(5.5) and totals.composed_delta == pytest.approx(2e-5)
    assert totals.max_epsilon_allowed == 8.0
    assert ledger.reservation(SHA, "r2") is not None and ledger.reservation(SHA, "r1") is None


def test_a_run_that_would_pass_the_maximum_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 3.0)
    _reserve(ledger, "r2", 3.0)
    before = ledger.path_for(SHA).read_bytes()
    with pytest.raises(GateFailed) as err:
        _reserve(ledger, "r3", 3.0)
    assert "6.000" in err.value.message and "9.000" in err.value.message and "ε=8" in err.value.message
    assert "gdpr/GDPR-DP-BASELINE" in err.value.message
    assert ledger.path_for(SHA).read_bytes() == before


def test_edited_ledger_breaks_the_hash_chain(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 3.0)
    _reserve(ledger, "r2", 1.0)
    path = ledger.path_for(SHA)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["epsilon"] = 0.1  # someone tries to make room in the budget
    path.write_text("\n".join([json.dumps(entry), lines[1]]) + "\n")
    with pytest.raises(InputError, match=r":1: privacy ledger hash chain is broken"):
        ledger.totals(SHA)


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 2.0)
    with ledger.path_for(SHA).open("a") as handle:
        handle.write('{"seq": 1, "kind": "spe')  # a crash mid-append
    assert ledger.totals(SHA).composed_epsilon == 2.0
    _reserve(ledger, "r2", 1.0)
    assert ledger.totals(SHA).composed_epsilon == 3.0
    assert len(ledger.path_for(SHA).read_text().splitlines()) == 2


def test_a_complete_bad_last_line_is_an_error_and_nothing_is_appended(tmp_path: Path) -> None:
    # only a line without its newline is a torn write; a whole garbage line is damage, not a crash
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 2.0)
    with ledger.path_for(SHA).open("a") as handle:
        handle.write("not json {\n")
    before = ledger.path_for(SHA).read_bytes()
    with pytest.raises(InputError, match=r":2: privacy ledger line is not a valid entry"):
        _reserve(ledger, "r2", 1.0)
    assert ledger.path_for(SHA).read_bytes() == before


def test_an_emptied_ledger_is_an_error_not_a_fresh_budget(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 6.0)
    ledger.path_for(SHA).write_text("")  # truncated: read as "nothing spent" it would allow another 6
    with pytest.raises(InputError, match="privacy ledger is empty"):
        _reserve(ledger, "r2", 6.0)
    assert ledger.path_for(SHA).read_text() == ""


def test_the_first_entry_creates_the_file_whole(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, "r1", 1.0)
    assert len(ledger.path_for(SHA).read_text().splitlines()) == 1
    assert ledger.path_for(SHA).stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_default_directory_is_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Ledger().directory == tmp_path / "auditor" / "ledger"

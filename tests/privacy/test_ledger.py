"""The privacy ledger: composition over the people (not the file), δ enforced, hash chain, durability."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest

from auditor.errors import GateFailed, InputError
from auditor.privacy import accounting
from auditor.privacy.ledger import LEDGER_FILE, Ledger, PlannedRun, UnitIdentity

SHA = "ab" * 32
OTHER_SHA = "cd" * 32


def people(names: list[str], texts_per: int = 1) -> list[UnitIdentity]:
    return [UnitIdentity(user=n, texts=tuple(f"ticket {t} from {n}" for t in range(texts_per))) for n in names]


def records(texts: list[str]) -> list[UnitIdentity]:
    return [UnitIdentity(user=None, texts=(t,)) for t in texts]


ALICE_BOB = people(["alice", "bob"])


@functools.cache
def run(eps: float, delta: float = 1e-5, steps: int = 10) -> PlannedRun:
    """A run whose mechanism really has ε=eps at δ (σ calibrated for q=0.1 and ``steps`` steps)."""
    sigma = accounting.calibrate_noise(eps, delta, 0.1, steps, "prv")
    return PlannedRun(epsilon=eps, delta=delta, noise_multiplier=sigma, sample_rate=0.1, steps=steps)


def _reserve(ledger: Ledger, units: list[UnitIdentity], run_id: str, eps: float, *, delta: float = 1e-5,
             max_eps: float | None = 8.0, max_delta: float | None = 1e-5, sha: str = SHA) -> None:
    ledger.reserve(units, dataset_sha256=sha, run_id=run_id, unit="user", planned=run(eps, delta),
                   accountant="prv", plan_sha256=None, max_epsilon_allowed=max_eps, delta=max_delta,
                   bound_by="gdpr/GDPR-DP-BASELINE")


def _settle(ledger: Ledger, run_id: str, eps: float, delta: float = 1e-5, steps: int = 10) -> None:
    ledger.settle(run_id=run_id, dataset_sha256=SHA, epsilon=eps, delta=delta, steps=steps, accountant="prv",
                  plan_sha256=None)


def composed(*runs: tuple[float, int], delta: float = 1e-5) -> float:
    """Ground truth: both accountants over the runs' concatenated histories."""
    events = []
    for eps, steps in runs:
        planned = run(eps)
        events.append((planned.noise_multiplier, planned.sample_rate, steps))
    return accounting.composed_epsilon(tuple(events), delta, "prv")


def test_reserve_then_settle_composes_runs_with_the_accountants(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 3.0)
    totals = ledger.totals(ALICE_BOB, SHA, delta=1e-5)
    assert (totals.runs, totals.epsilon_reserved, totals.epsilon_spent) == (1, 3.0, 0)
    assert totals.composed_epsilon == pytest.approx(composed((3.0, 10)))  # ε of the run itself, at δ 1e-5
    _settle(ledger, "r1", 2.5, steps=7)  # stopped early: 7 of 10 steps count
    _reserve(ledger, ALICE_BOB, "r2", 3.0)
    totals = ledger.totals(ALICE_BOB, SHA, max_epsilon_allowed=8.0, delta=1e-5)
    assert totals.runs == 2 and totals.epsilon_spent == 2.5 and totals.epsilon_reserved == 3.0
    truth = composed((3.0, 7), (3.0, 10))
    assert totals.composed_epsilon == pytest.approx(truth) and truth < 2.5 + 3.0  # sub-additive, not summed
    assert totals.composed_delta == 1e-5  # stated at the policies' δ: δ does not pile up run after run
    assert totals.units == 2 and totals.units_in_earlier_runs == 2 and totals.max_epsilon_allowed == 8.0
    assert ledger.reservation("r2") is not None and ledger.reservation("r1") is None
    # a run set aside (resume re-checks itself against the others)
    assert ledger.totals(ALICE_BOB, SHA, exclude_run="r2", delta=1e-5).composed_epsilon == \
        pytest.approx(composed((3.0, 7)))


def test_composition_follows_the_people_not_the_file(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, people(["alice", "bob", "carol"]), "r1", 5.0, max_eps=6.0)
    # another file (other digest), other order, one person more: alice and bob still carry the first run
    with pytest.raises(GateFailed) as err:
        _reserve(ledger, people(["dave", "bob", "alice"]), "r2", 5.0, max_eps=6.0, sha=OTHER_SHA)
    message = err.value.message
    assert "2 of this run's 3 privacy units were in 1 earlier run" in message
    assert "past the maximum ε=6" in message and "gdpr/GDPR-DP-BASELINE" in message
    left = float(message.split("lower privacy.target_epsilon to at most ")[1].split(" ")[0])
    assert 1.0 < left < 5.0  # how to proceed: a run this small fits...
    _reserve(ledger, people(["dave", "bob", "alice"]), "r2", round(left - 0.02, 2), max_eps=6.0,
             sha=OTHER_SHA)  # ...and it does
    # nobody from the earlier runs: a fresh budget
    _reserve(ledger, people(["erin", "frank"]), "r3", 5.0, max_eps=6.0, sha=OTHER_SHA)


def test_re_pseudonymised_ids_are_matched_by_their_texts(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, people(["alice", "bob"], texts_per=3), "r1", 2.0)
    renamed = [UnitIdentity(user="id-" + str(i), texts=u.texts) for i, u in enumerate(people(["alice", "bob"], 3))]
    totals = ledger.totals(renamed, OTHER_SHA, delta=1e-2)
    # ids differ: each person matches the earlier run through 3 texts -> group privacy of 3, basic composition
    assert totals.composed_epsilon == pytest.approx(6.0)
    assert 3 * math.exp(2 * 2.0) * 1e-5 < 1e-2
    # a copy that only changes whitespace or case is the same text: matched once, composed by the accountants
    spaced = [UnitIdentity(user=None, texts=("  TICKET 0   from Alice\n",))]
    assert ledger.totals(spaced, OTHER_SHA, delta=1e-5).composed_epsilon == \
        pytest.approx(composed((2.0, 10)))


def test_a_record_level_run_charges_a_person_once_per_record(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, records(["a1", "a2", "b1"]), "r1", 1.0)
    alice = [UnitIdentity(user="alice", texts=("a1", "a2")), UnitIdentity(user="bob", texts=("b1",))]
    totals = ledger.totals(alice, OTHER_SHA, delta=1e-3)
    assert totals.composed_epsilon == pytest.approx(2.0) and totals.units_in_earlier_runs == 2


def test_group_privacy_delta_is_taken_out_of_what_the_accountants_may_use(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, records(["a1", "a2", "a3"]), "r1", 1.0, delta=4e-6)
    alice = [UnitIdentity(user="alice", texts=("a1", "a2", "a3"))]
    # alice matched 3 records: 3ε and 3·e^{2ε}·δ = 8.9e-5 > the 1e-5 allowed -> nothing fits
    with pytest.raises(GateFailed, match="their budget is spent"):
        _reserve(ledger, alice, "r2", 0.5, sha=OTHER_SHA)
    assert ledger.totals(alice, OTHER_SHA, delta=1e-5).composed_epsilon is None   # unbounded: no finite ε


def test_a_refused_run_writes_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 5.0, max_eps=6.0)
    before = (tmp_path / LEDGER_FILE).read_bytes()
    files = sorted(p.name for p in (tmp_path / "units").iterdir())
    with pytest.raises(GateFailed):
        _reserve(ledger, ALICE_BOB, "r2", 5.0, max_eps=6.0)
    assert (tmp_path / LEDGER_FILE).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == files


def test_the_ledger_holds_no_id_and_no_text(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    units = [UnitIdentity(user="jane.doe@example.com", texts=("my card is 4556 7375 8689 9855",))]
    _reserve(ledger, units, "r1", 1.0)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".lock":  # the lock file is empty
            data = path.read_bytes()
            assert b"jane" not in data and b"4556" not in data and b"example" not in data
            assert path.stat().st_mode & 0o077 == 0, path  # salt, ledger, unit keys: owner only


def test_missing_or_foreign_salt_is_an_error_not_a_fresh_budget(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 6.0)
    salt = (tmp_path / "salt").read_text()
    (tmp_path / "salt").unlink()
    with pytest.raises(InputError, match="salt is missing"):
        _reserve(ledger, ALICE_BOB, "r2", 6.0)
    (tmp_path / "salt").write_text("00" * 32 + "\n")
    with pytest.raises(InputError, match="another salt"):
        ledger.totals(ALICE_BOB, SHA)
    (tmp_path / "salt").write_text(salt)
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == pytest.approx(6.0, abs=0.01)


def test_tampered_or_missing_unit_file_is_reported(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 6.0)
    unit_file = next((tmp_path / "units").iterdir())
    data = bytearray(unit_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    unit_file.write_bytes(bytes(data))
    with pytest.raises(InputError, match="does not match its entry"):
        ledger.totals(ALICE_BOB, SHA)
    unit_file.unlink()
    with pytest.raises(InputError, match="unit file is missing"):
        ledger.totals(ALICE_BOB, SHA)


def test_edited_ledger_breaks_the_hash_chain(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 3.0)
    _reserve(ledger, ALICE_BOB, "r2", 1.0)
    path = tmp_path / LEDGER_FILE
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["epsilon"] = 0.1  # someone tries to make room in the budget
    path.write_text("\n".join([json.dumps(entry), lines[1]]) + "\n")
    with pytest.raises(InputError, match=r":1: privacy ledger hash chain is broken"):
        ledger.totals(ALICE_BOB, SHA)


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 2.0)
    with (tmp_path / LEDGER_FILE).open("a") as handle:
        handle.write('{"seq": 1, "kind": "spe')  # a crash mid-append
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == pytest.approx(2.0, abs=0.01)
    _reserve(ledger, ALICE_BOB, "r2", 1.0)
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == pytest.approx(composed((2.0, 10), (1.0, 10)))
    assert len((tmp_path / LEDGER_FILE).read_text().splitlines()) == 2


def test_a_complete_bad_last_line_is_an_error_and_nothing_is_appended(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 2.0)
    with (tmp_path / LEDGER_FILE).open("a") as handle:
        handle.write("not json {\n")
    before = (tmp_path / LEDGER_FILE).read_bytes()
    with pytest.raises(InputError, match=r":2: privacy ledger line is not a valid entry"):
        _reserve(ledger, ALICE_BOB, "r2", 1.0)
    assert (tmp_path / LEDGER_FILE).read_bytes() == before


def test_an_emptied_ledger_is_an_error_not_a_fresh_budget(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 6.0)
    (tmp_path / LEDGER_FILE).write_text("")
    with pytest.raises(InputError, match="privacy ledger is empty"):
        _reserve(ledger, ALICE_BOB, "r2", 6.0)


def test_short_writes_are_completed_and_a_full_disk_is_bad_input(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from auditor.privacy import ledger_store as module

    real = os.write
    monkeypatch.setattr(module.os, "write", lambda fd, data: real(fd, bytes(data[:7])))  # 7 bytes at a time
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 2.0)
    _reserve(ledger, ALICE_BOB, "r2", 1.0)
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == pytest.approx(composed((2.0, 10), (1.0, 10)))

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module.os, "write", full)
    with pytest.raises(InputError, match=r"cannot be written \(No space left on device\); nothing was trained"):
        _reserve(ledger, ALICE_BOB, "r3", 1.0)
    monkeypatch.setattr(module.os, "write", real)
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == pytest.approx(composed((2.0, 10), (1.0, 10)))


def test_legacy_per_file_ledgers_still_count_for_their_dataset(tmp_path: Path) -> None:
    from auditor.privacy.ledger_store import GENESIS
    from auditor.privacy.ledger_store import entry_hash as _entry_hash

    fields = {"seq": 0, "kind": "spend", "run_id": "old", "dataset_sha256": SHA, "epsilon": 3.0, "delta": 1e-5,
              "accountant": "prv", "plan_sha256": None, "at": "2026-11-01T00:00:00+00:00", "prev": GENESIS}
    reserve = {**fields, "kind": "reserve"}
    reserve["hash"] = _entry_hash(reserve)
    spend = {**fields, "seq": 1, "prev": reserve["hash"]}
    spend["hash"] = _entry_hash(spend)
    (tmp_path / f"{SHA}.jsonl").write_text(json.dumps(reserve) + "\n" + json.dumps(spend) + "\n")
    ledger = Ledger(tmp_path)
    assert ledger.totals(ALICE_BOB, SHA).composed_epsilon == 3.0  # no mechanism recorded: basic composition
    assert ledger.totals(ALICE_BOB, OTHER_SHA).composed_epsilon == 0.0
    with pytest.raises(GateFailed):
        _reserve(ledger, ALICE_BOB, "r1", 6.0)


def test_many_units_compose_exactly(tmp_path: Path) -> None:
    units = [UnitIdentity(user=f"u{i}", texts=(f"t{i}",)) for i in range(100_000)]
    ledger = Ledger(tmp_path)
    _reserve(ledger, units, "r1", 1.0)
    totals = ledger.totals(units[:50_000] + people(["new"]), OTHER_SHA)
    assert totals.units == 50_001 and totals.units_in_earlier_runs == 50_000
    assert totals.composed_epsilon == pytest.approx(1.0, abs=0.01)


def test_default_directory_is_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Ledger().directory == tmp_path / "auditor" / "ledger"


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 KiB tmpfs, where the machine lets us mount one (root in a sandbox); skipped elsewhere."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here; the fault-injection test covers short writes")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_a_full_disk_refuses_the_reservation_and_loses_nothing(small_disk: Path) -> None:
    import os

    ledger = Ledger(small_disk / "ledger")
    _reserve(ledger, ALICE_BOB, "r1", 2.0)
    before = ledger.totals(ALICE_BOB, SHA, delta=1e-5).composed_epsilon
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill every free block: only page slack is left
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    assert os.statvfs(small_disk).f_bavail == 0
    with pytest.raises(InputError, match=r"privacy ledger cannot be written \(No space left on device\)"):
        _reserve(ledger, ALICE_BOB, "r2", 1.0)
    assert ledger.totals(ALICE_BOB, SHA, delta=1e-5).composed_epsilon == before  # what was spent still counts
    assert ledger.reservation("r2") is None
    filler.unlink()
    _reserve(ledger, ALICE_BOB, "r2", 1.0)  # with room again, the chain continues intact
    assert len(ledger.entries()) == 2
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)  # a read-only ledger folder
    with pytest.raises(InputError, match=r"privacy ledger cannot be written \(Read-only file system\)"):
        _reserve(ledger, ALICE_BOB, "r3", 1.0)
    assert len(ledger.entries()) == 2


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_deleted_or_truncated_ledger_is_not_a_fresh_budget(tmp_path: Path, damage: str) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 5.0, max_eps=6.0)
    _settle(ledger, "r1", 5.0)
    _reserve(ledger, people(["carol"]), "r2", 1.0)
    path = tmp_path / LEDGER_FILE
    if damage == "delete":
        path.unlink()
        expected = "missing, but 2 run.s. of unit keys are beside it"
    else:
        path.write_text(path.read_text().splitlines()[0] + "\n")  # keep only r1's reservation
        expected = "1 run.s. in .* have no entry in the ledger: lines were removed"
    with pytest.raises(InputError, match=expected):
        _reserve(ledger, ALICE_BOB, "r3", 5.0, max_eps=6.0)


def test_the_totals_say_which_ledger_and_where_its_chain_stood(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _reserve(ledger, ALICE_BOB, "r1", 1.0)
    totals = ledger.totals(ALICE_BOB, SHA)
    assert totals.ledger_entries == 1 and totals.ledger_head == ledger.entries()[-1].hash
    assert not totals.ledger_default and (tmp_path / "units").stat().st_mode & 0o077 == 0


def test_an_unbounded_composition_is_written_as_null_and_read_back() -> None:
    """Group privacy over a unit matched twice can leave no finite ε at the stated δ: the totals say
    'unbounded' (null), and evidence holding them still loads (JSON has no infinity)."""
    from auditor.privacy.ledger import LedgerTotals

    totals = LedgerTotals(dataset_sha256="a" * 64, units=10, runs=2, composed_epsilon=None, composed_delta=1e-5,
                          epsilon_spent=6.0, epsilon_reserved=0.0)
    assert LedgerTotals.model_validate_json(totals.model_dump_json()) == totals

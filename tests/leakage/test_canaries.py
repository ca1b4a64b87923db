"""Canaries: secret, in the data's own shape, privacy units whose coins nothing released depends on."""

from __future__ import annotations

from auditor.leakage.canaries import candidates, plant
from auditor.train.tasks import CausalLM, SequenceClassification


def test_a_key_decides_everything_and_another_key_decides_it_afresh() -> None:
    task = SequenceClassification()
    one = plant(task, 400, bytes(32), chat=False, labels=4)
    again = plant(task, 400, bytes(32), chat=False, labels=4)
    other = plant(task, 400, bytes([1]) * 32, chat=False, labels=4)
    assert one == again   # a resumed run replants exactly its own canaries
    assert [e.text for e in one.examples] != [e.text for e in other.examples] and one.included != other.included
    assert len({e.text for e in one.examples}) == 400
    assert {e.label for e in one.examples} == {0, 1, 2, 3}
    # fair coins: 400 draws stay within 4 standard deviations of 200
    assert abs(sum(one.included) - 200) < 4 * 10


def test_causal_lm_canaries_are_chats_when_the_data_is_and_their_shape_hides_the_secret() -> None:
    task = CausalLM()
    planted = plant(task, 20, bytes(32), chat=True, labels=1)
    first = planted.examples[0]
    assert first.chat is not None and first.chat[-1][0] == "assistant"
    secret = first.chat[-1][1].split()[-1].rstrip(".")
    assert len(secret) == 11 and secret.replace("-", "").isdigit()
    assert secret not in planted.shape and "###-###-###" in planted.shape
    plain = plant(task, 20, bytes(32), chat=False, labels=1)
    assert plain.examples[0].chat is None and plain.examples[0].text.startswith("My reference number is ")
    pool = candidates(task, 50, bytes([7]) * 32, chat=True)
    assert not {e.text for e in pool} & {e.text for e in planted.examples}


def test_which_real_records_are_scored_does_not_depend_on_the_others() -> None:
    """Removing one record must not change which of the others the audit scores (as the split is keyed per
    unit): the sample is the smallest keyed hashes, not positions in a random stream."""
    from auditor.leakage.audit import _sample
    from auditor.train.data import Example

    examples = [Example(line=i, text=f"record {i}", label=0, user=None) for i in range(300)]
    chosen = {e.text for e in _sample(examples, 50, bytes(32))}
    without = [e for e in examples if e.text not in {"record 7", "record 123"}]
    again = {e.text for e in _sample(without, 50, bytes(32))}
    assert len(chosen) == len(again) == 50 and len(chosen - again) <= 2
    assert chosen - again <= {"record 7", "record 123"}
    assert {e.text for e in _sample(examples, 50, bytes([1]) * 32)} != chosen

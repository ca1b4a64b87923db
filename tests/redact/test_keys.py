"""The pseudonym key: made 0600 once, reused, never weak; tokens stable per value and per key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.redact.keys import default_key_path, key_id, load_or_create_key, normalise, pseudonym_digest


def test_a_missing_key_is_created_0600_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "redact.key"
    key, where, created = load_or_create_key(path)
    assert created and where == path and len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, _, created_again = load_or_create_key(path)
    assert again == key and not created_again


def test_the_default_key_lives_in_the_user_config_folder(own_config_dir: Path) -> None:
    key, where, created = load_or_create_key(None)
    assert created and where == default_key_path() and own_config_dir in where.parents
    assert load_or_create_key(None)[0] == key


@pytest.mark.parametrize("content", [b"", b"short\n"])
def test_a_weak_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weak.key"
    path.write_bytes(content)
    with pytest.raises(InputError, match="too short"):
        load_or_create_key(path)


def test_a_folder_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory, expected a pseudonym key file"):
        load_or_create_key(tmp_path)


def test_key_id_reveals_nothing_of_the_key_and_tells_keys_apart() -> None:
    one, two = b"a" * 32, b"b" * 32
    assert key_id(one) == key_id(one) != key_id(two)
    assert "a" * 8 not in key_id(one) and len(key_id(one)) == 16


def test_spellings_of_one_value_are_one_pseudonym_and_types_are_kept_apart() -> None:
    key = b"k" * 32
    assert pseudonym_digest(key, "PERSON", "Jane  Doe") == pseudonym_digest(key, "PERSON", "jane doe")
    assert pseudonym_digest(key, "PHONE_NUMBER", "(415) 372-9061") == \
        pseudonym_digest(key, "PHONE_NUMBER", "415.372.9061")
    assert pseudonym_digest(key, "PERSON", "Jordan") != pseudonym_digest(key, "LOCATION", "Jordan")
    assert pseudonym_digest(key, "PERSON", "Jane Doe") != pseudonym_digest(b"q" * 32, "PERSON", "Jane Doe")
    assert normalise("US_SSN", "536-22-8745") == "536228745"


def test_a_title_or_degree_does_not_make_a_second_person() -> None:
    """Found by a QA pass: the name rules keep "Mr." in the span, so "Dear Mr. Quincey" and "Regards, Quincey"
    got two tokens for one person."""
    key = b"k" * 32
    one = pseudonym_digest(key, "PERSON", "Bartholomew Quincey")
    for spelling in ("Mr Bartholomew Quincey", "Mr. Bartholomew  Quincey", "DR. PROF. Bartholomew Quincey, PhD",
                     "Bartholomew Quincey Jr."):
        assert pseudonym_digest(key, "PERSON", spelling) == one, spelling
    assert pseudonym_digest(key, "PERSON", "Drew Barrymore") != pseudonym_digest(key, "PERSON", "Barrymore")
    assert pseudonym_digest(key, "PERSON", "Mrs") != pseudonym_digest(key, "PERSON", "")   # a title alone stays
    assert pseudonym_digest(key, "ORGANIZATION", "Mr Clean") != pseudonym_digest(key, "ORGANIZATION", "Clean")

"""The detector's routing decisions (language, which texts need NER) and the tiers' agreement on long texts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.scan.engine import guess_lang
from auditor.scan.identifiers import IdentifierTier
from auditor.scan.ner import needs_ner
from tests.scan.planted import ROWS

REPO = Path(__file__).resolve().parents[2]


def test_language_guess() -> None:
    assert guess_lang("The parcel arrived late.") == "en"
    assert guess_lang("我的包裹还没到，邮箱 wanda.quist77@example.com") == "zh"
    assert guess_lang("Order from Zürich, café crème") == "en"
    assert guess_lang("Thanks for the quick help with my order today! 谢谢") == "en"   # mostly English


def test_ner_is_skipped_only_without_mid_sentence_capitals() -> None:
    assert not needs_ner("The password reset link expired before I could use it. Please send another.")
    assert not needs_ner("I'm done, I will wait.")
    assert needs_ner("Hello, my name is John Smith.")
    assert needs_ner("Ship it to Paris please")
    assert needs_ner("Customer (Anna) wrote")
    # order and ticket numbers are capitals with digits: no name or place the model could return
    assert not needs_ner("Where is order SO6834614? It was A-4526324 before the merge.")
    assert needs_ner("Where is order SO6834614 for Anna?")


def test_windowed_regexes_match_whole_text_regexes_on_long_records() -> None:
    texts = [" ".join(str(r["text"]) for r in ROWS if str(r["text"]).isascii()) * 12]
    texts.append("x" * 600 + " https://example.org/" + "a" * 400 + " and mail a@example.com")
    texts.append(" ".join(str(r["text"]) for r in ROWS) * 8)          # long and Chinese: byte != char offsets
    texts.append(" ".join(f"call (212) 849-{n:04d}" for n in range(1000, 1100)))   # past the window cap
    assert len(texts[0]) > 512
    fast, plain = IdentifierTier(), IdentifierTier(use_hyperscan=False)
    assert fast.find_many(texts) == [plain.find(t) for t in texts]
    assert len(fast.find_many(texts)[0]) == 12 * 6     # e-mail, phone, card, IP, SSN, "my name is" name per repeat


def test_cli_help_and_scan_module_stay_light() -> None:
    code = ("import sys; from auditor.cli import cli; import auditor.scan.api, auditor.cli.scan, auditor.cli.redact; "
            "import auditor.scan.engines; cli.list_commands(cli.make_context('auditor', ['--help'], "
            "resilient_parsing=True)); print([m for m in ('presidio_analyzer', 'spacy', 'hyperscan', 'torch', "
            "'pyarrow', 'ray') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_progress_bar_shows_rate_and_eta_on_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    from auditor.scan.scanner import _Progress

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    bar = _Progress(True, 100, "scanning test.jsonl")
    bar.advance(50)
    bar.advance(100)
    bar.close()
    err = capsys.readouterr().err
    assert "scanning test.jsonl" in err and "rec/s" in err and "ETA" in err and "100/100" in err
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: False))
    assert _Progress(True, 100, "x").bar is None          # not a terminal: no bar
    assert _Progress(False, 100, "x").bar is None         # --no-progress

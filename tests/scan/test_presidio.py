"""The Presidio engine factory: offline, with auditor's recognizers registered and the misfiring ones removed."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from auditor.scan.presidio import build_analyzer


def test_tuned_presidio_analyzer_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoNetwork(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("network disabled by test")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    analyzer = build_analyzer(vanilla=False)
    names = {r.name for r in analyzer.registry.recognizers}
    assert "NhsRecognizer" not in names and "auditor_cn_resident_id" in names
    text = "身份证号11010519491231002X，邮箱wanda@example.com，电话(212) 849-3344"
    found = {(r.entity_type, text[r.start:r.end]) for r in analyzer.analyze(text, language="en")}
    assert ("CN_RESIDENT_ID", "11010519491231002X") in found
    assert ("EMAIL_ADDRESS", "wanda@example.com") in found
    assert ("PHONE_NUMBER", "(212) 849-3344") in found
    assert not any(entity == "UK_NHS" for entity, _ in found)

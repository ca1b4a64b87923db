"""The detector one worker process runs: identifier tier + lexicon tier + spaCy NER, merged per text.

Each worker owns one :class:`Detector` (Presidio's ``n_process`` parallelises only spaCy and then runs
every recognizer in the parent; here everything runs in the worker). Under the ``fork`` start method the
parent builds the detector once and the workers inherit it, so the model is not loaded once per worker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from auditor.scan.identifiers import IdentifierTier, resolve_overlaps
from auditor.scan.lexicon import LexiconTier
from auditor.scan.placeholders import drop_inside, placeholder_spans, without_placeholders
from auditor.scan.types import Span, TextResult

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def guess_lang(text: str) -> str:
    """``zh`` when CJK characters make up a real share of the text, else ``en`` (the NER model's language)."""
    if text.isascii():
        return "en"
    cjk = len(_CJK.findall(text))
    return "zh" if cjk >= 2 and cjk * 4 >= len(_LATIN.findall(text)) else "en"


class Detector:
    def __init__(self, ner: bool = True) -> None:
        from auditor.scan.ner import NerTier, needs_ner

        self.needs_ner = needs_ner
        self.identifiers = IdentifierTier()
        self.lexicon = LexiconTier()
        self.ner = NerTier() if ner else None

    def detect(self, texts: Sequence[str]) -> list[TextResult]:
        langs = [guess_lang(t) for t in texts]
        identifier_spans = self.identifiers.find_many(texts)
        ner_spans: list[list[Span]] = [[] for _ in texts]
        if self.ner is not None:
            english = [i for i, lang in enumerate(langs)
                       if lang == "en" and self.needs_ner(without_placeholders(texts[i]))]
            for i, spans in zip(english, self.ner.find_many([texts[i] for i in english]), strict=True):
                ner_spans[i] = spans
        results: list[TextResult] = []
        for i, text in enumerate(texts):
            ids = identifier_spans[i]
            # A name or place overlapping an identifier is the model misreading it (an e-mail as PERSON).
            named = [s for s in ner_spans[i] if all(s.end <= k.start or s.start >= k.end for k in ids)]
            # a redacted file's <PERSON> / <HEALTH> placeholders are not personal data (scan/placeholders.py)
            spans = drop_inside(resolve_overlaps(ids + named) + self.lexicon.find(text), placeholder_spans(text))
            spans.sort(key=lambda s: (s.start, s.end))
            results.append(TextResult(langs[i], tuple(spans)))
        return results


_DETECTOR: Detector | None = None


def get_detector(ner: bool = True) -> Detector:
    global _DETECTOR
    if _DETECTOR is None or (ner and _DETECTOR.ner is None):
        _DETECTOR = Detector(ner=ner)
    return _DETECTOR


def init_worker(ner: bool) -> None:
    """One BLAS thread per worker: N workers each running a 2-thread GEMM on N cores only thrash."""
    import contextlib
    import importlib

    with contextlib.suppress(ImportError):  # optional: without it OpenBLAS picks its own thread count
        importlib.import_module("threadpoolctl").threadpool_limits(1)
    get_detector(ner)


def detect_batch(args: tuple[list[str], bool]) -> list[TextResult]:
    texts, ner = args
    return get_detector(ner).detect(texts)

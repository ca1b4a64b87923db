"""The fast identifier tier: one Hyperscan pass per batch, then only the regexes whose prefilter fired.

Most records hold no identifier at all, so the cost that matters is proving a text clean. Hyperscan
matches all prefilter classes in a single pass over the UTF-8 bytes (hundreds of MB/s); Python's ``re`` and
the validators run only on texts with a candidate. Without Hyperscan (non-x86 platforms) every rule runs:
same results, slower.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from auditor.scan.recognizers import PREFILTERS, RULES, IdentifierRule, context_ok
from auditor.scan.types import Span

#: None: run the rule on the whole text; else the [start, end) windows to run it on.
Windows = list[tuple[int, int]] | None
WINDOW_MIN_TEXT = 512
WINDOW_BEFORE = 100  # an e-mail's local part (<= 64) or a street number before the prefilter's hit
WINDOW_AFTER = 160
MAX_WINDOWS = 64


def _hyperscan_db(classes: Sequence[str]) -> Any | None:
    try:
        import hyperscan
    except ImportError:
        return None
    patterns: list[bytes] = []
    flags: list[int] = []
    for name in classes:
        raw = PREFILTERS[name]
        flag = 0
        if raw.startswith(b"(?i)"):
            raw = raw[4:]
            flag |= hyperscan.HS_FLAG_CASELESS
        patterns.append(raw)
        flags.append(flag)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
    return db


class IdentifierTier:
    """Pattern recognizers with validators; thread-unsafe (one per worker process)."""

    def __init__(self, rules: Sequence[IdentifierRule] = RULES, use_hyperscan: bool = True) -> None:
        self.rules = tuple(rules)
        self.classes = sorted({rule.prefilter for rule in self.rules})
        self.by_class: dict[int, tuple[IdentifierRule, ...]] = {
            i: tuple(r for r in self.rules if r.prefilter == name) for i, name in enumerate(self.classes)}
        self.db = _hyperscan_db(self.classes) if use_hyperscan else None
        self._scratch: Any = None
        if self.db is not None:
            import hyperscan

            self._scratch = hyperscan.Scratch(self.db)
            self.db.scratch = self._scratch
        self.engine = "hyperscan" if self.db is not None else "re"

    def candidate_rules(self, text: str) -> list[IdentifierRule]:
        return [rule for rule, _ in self.candidates_many([text])[0]]

    def candidates_many(self, texts: Sequence[str]) -> list[list[tuple[IdentifierRule, Windows]]]:
        """Rules to run per text -- and, in long ASCII texts, where -- from one Hyperscan pass per batch.

        One call for the batch instead of one per text: the per-call cost in Python, not the matching, is
        what limits a tier that mostly proves texts clean. In a long text a rule's regex then runs only on
        windows around its prefilter's hits, not over the whole text once per rule.
        """
        if self.db is None:
            return [[(rule, None) for rule in self.rules] for _ in texts]
        # Byte offsets of each text in the joined buffer; ASCII texts (the common case) need no encoding.
        sizes = [(len(t) if t.isascii() else len(t.encode("utf-8", "surrogatepass"))) + 2 for t in texts]
        starts = list(accumulate(sizes, initial=0))
        hits: dict[tuple[int, int], list[int]] = {}

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            index = bisect_right(starts, end - 1) - 1
            key = (index, pattern_id)
            ends = hits.get(key)
            if ends is None:
                hits[key] = [end - starts[index]]
            elif len(ends) <= MAX_WINDOWS:  # one past the cap marks "too many: run on the whole text"
                ends.append(end - starts[index])

        buffer = ("\x00\n".join(texts) + "\x00\n").encode("utf-8", "surrogatepass")
        self.db.scan(buffer, match_event_handler=on_match)
        found: dict[int, list[tuple[int, list[int]]]] = {}
        for (index, pattern_id), ends in hits.items():
            found.setdefault(index, []).append((pattern_id, ends))
        out: list[list[tuple[IdentifierRule, Windows]]] = [[] for _ in texts]
        for index, classes in found.items():  # only texts with a candidate: most texts never get here
            text = texts[index]
            windowed = len(text) > WINDOW_MIN_TEXT
            if windowed and not text.isascii():  # Hyperscan reports byte offsets; windows need characters
                raw = buffer[starts[index]:starts[index + 1] - 2]
                to_char = _char_offsets(raw, {end for _, ends in classes for end in ends})
                classes = [(cls, [to_char[end] for end in ends]) for cls, ends in classes]
            out[index] = [(rule, _windows(ends, len(text)) if windowed and len(ends) <= MAX_WINDOWS else None)
                          for cls, ends in sorted(classes) for rule in self.by_class[cls]]
        return out

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        return [self._run(text, rules) if rules else [] for text, rules in
                zip(texts, self.candidates_many(texts), strict=True)]

    def find(self, text: str) -> list[Span]:
        return self._run(text, self.candidates_many([text])[0])

    def _run(self, text: str, rules: Sequence[tuple[IdentifierRule, Windows]]) -> list[Span]:
        spans: list[Span] = []
        for rule, windows in rules:
            matches: list[re.Match[str]] = []
            if windows is None:
                matches.extend(rule.compiled.finditer(text))
            else:
                for lo, hi in windows:
                    part = list(rule.compiled.finditer(text, lo, hi))
                    if part and part[-1].end() == hi < len(text):  # cut by the window: redo on the whole text
                        matches = list(rule.compiled.finditer(text))
                        break
                    matches.extend(part)
            for match in matches:
                start, end = match.span(rule.group)
                value = match.group(rule.group)
                if not value or not context_ok(rule, text, start):
                    continue
                if not rule.validator(value, text[max(0, start - 20):start]):
                    continue
                spans.append(Span(rule.entity, start, end, rule.score, rule.name))
        return resolve_overlaps(spans)


def _char_offsets(raw: bytes, byte_offsets: set[int]) -> dict[int, int]:
    """Character offset of each byte offset, decoding each stretch once (match ends are on UTF-8 boundaries)."""
    out: dict[int, int] = {}
    chars = previous = 0
    for offset in sorted(byte_offsets):
        chars += len(raw[previous:offset].decode("utf-8", "ignore"))
        out[offset] = chars
        previous = offset
    return out


def _windows(ends: list[int], size: int) -> list[tuple[int, int]]:
    """Merged [start, end) windows around prefilter match ends, wide enough for any full match."""
    merged: list[tuple[int, int]] = []
    for end in sorted(ends):
        lo, hi = max(0, end - WINDOW_BEFORE), min(size, end + WINDOW_AFTER)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep the best of overlapping spans: higher score, then longer, then earlier.

    This is where an SSN-shaped or CN-ID-shaped number stops also being reported as a phone number.
    """
    if len(spans) < 2:
        return spans
    ordered = sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.recognizer))
    kept: list[Span] = []
    for span in ordered:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)

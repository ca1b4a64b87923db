"""The fast identifier tier: one Hyperscan pass per batch, then only the regexes whose prefilter fired.

Most records hold no identifier at all, so the cost that matters is proving a text clean. Hyperscan
matches all prefilter classes in a single pass over the UTF-8 bytes (hundreds of MB/s); Python's ``re`` and
the validators run only on texts with a candidate. Without Hyperscan (non-x86 platforms) every rule runs:
same results, slower.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from auditor.scan.recognizers import PREFILTERS, RULES, IdentifierRule, context_ok
from auditor.scan.types import Span


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
        return self.candidates_many([text])[0]

    def candidates_many(self, texts: Sequence[str]) -> list[list[IdentifierRule]]:
        """Rules to run per text, from one Hyperscan pass over the whole batch.

        One call for the batch instead of one per text: the per-call cost in Python, not the matching, is
        what limits a tier that mostly proves texts clean.
        """
        if self.db is None:
            return [list(self.rules) for _ in texts]
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        ends: list[int] = []
        position = 0
        for chunk in encoded:
            position += len(chunk) + 2
            ends.append(position)
        hits: set[tuple[int, int]] = set()

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            hits.add((bisect_right(ends, end - 1), pattern_id))

        self.db.scan(b"\x00\n".join(encoded) + b"\x00\n", match_event_handler=on_match)
        found: list[set[int]] = [set() for _ in texts]
        for index, pattern_id in hits:
            found[index].add(pattern_id)
        return [[rule for cls in sorted(ids) for rule in self.by_class[cls]] for ids in found]

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        return [self._run(text, rules) for text, rules in zip(texts, self.candidates_many(texts), strict=True)]

    def find(self, text: str) -> list[Span]:
        return self._run(text, self.candidate_rules(text))

    def _run(self, text: str, rules: Sequence[IdentifierRule]) -> list[Span]:
        spans: list[Span] = []
        for rule in rules:
            for match in rule.compiled.finditer(text):
                start, end = match.span(rule.group)
                value = match.group(rule.group)
                if not value or not context_ok(rule, text, start):
                    continue
                if not rule.validator(value, text[max(0, start - 20):start]):
                    continue
                spans.append(Span(rule.entity, start, end, rule.score, rule.name))
        return resolve_overlaps(spans)


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

"""The fast identifier tier: one Hyperscan pass per batch finds which rules can match in which texts.

Most records hold no identifier at all, so the cost that matters is proving a text clean. Each rule's own
pattern, widened to what Hyperscan can express (:func:`hyperscan_pattern`), is matched in a single pass over
the batch's UTF-8 bytes; Python's ``re`` and the validators then run only for the rules that fired, in the
texts where they fired (and, in long texts, only around where). Without Hyperscan (non-x86 platforms) every
rule runs: same results, slower.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import accumulate
from typing import Any

from auditor.scan.recognizers import RULES, IdentifierRule, context_ok
from auditor.scan.types import Span

#: None: run the rule on the whole text; else the [start, end) windows to run it on.
Windows = list[tuple[int, int]] | None
WINDOW_MIN_TEXT = 512
WINDOW_AFTER = 160  # past the last match end: room for any look-ahead
MAX_REACH = 400  # a rule whose matches may be longer runs from the start of the text up to its windows
MAX_WINDOWS = 64
_SEPARATOR = b"\x00\n"  # between texts: no pattern matches across a NUL, and \s* stops at it

_NON_ASCII = r"\x{80}-\x{10FFFF}"
#: The non-ASCII characters that ``re.IGNORECASE`` equates with an ASCII letter (İ and ı with i, ſ with s, the
#: Kelvin sign with k). Hyperscan's Unicode case folding leaves out İ and ı, so caseless rules spell all four out.
_ASCII_PARTNERS = "\u0130\u0131\u017f\u212a"
_ASCII_PARTNERS_OF = {"i": r"\x{130}\x{131}", "I": r"\x{130}\x{131}", "s": r"\x{17f}", "S": r"\x{17f}",
                      "k": r"\x{212a}", "K": r"\x{212a}"}


#: Full-width ASCII forms (U+FF01-FF5E: the digits, letters, ＠, （） and － that Chinese input methods type in
#: full-width mode) and the ideographic space, as the ASCII they stand for. One character for one, so every
#: offset stays true to the original text, and every rule sees ``１３８１２３４５６７８`` as the mobile number it is.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

#: What ``\\d`` becomes: ASCII and full-width digits (U+FF10-FF19, common in Chinese text). Python's ``\\d``
#: takes every Unicode digit (~660 in 60 scripts), but inside the rules that class makes the database take
#: ~5 s instead of ~0.5 s to compile in every worker; a text holding any other digit runs every rule instead.
_DIGITS = r"0-9\x{ff10}-\x{ff19}"


@cache
def _other_digits() -> str:
    """The digits Python's ``\\d`` matches beyond :data:`_DIGITS`, as one Hyperscan class (~30 ms, once).

    Read from ``re`` itself, so it follows this Python's Unicode tables; every digit block lies below
    U+20000 (planes 2 and up hold ideographs and tags).
    """
    chars = "".join(map(chr, range(0x80, 0x20000)))
    runs = [(0x80 + m.start(), 0x80 + m.end() - 1) for m in re.finditer(r"\d+", chars)]
    return "[" + "".join(rf"\x{{{lo:x}}}-\x{{{hi:x}}}" for lo, hi in runs if not 0xFF10 <= lo <= 0xFF19) + "]"


def _group_end(pattern: str, start: int) -> int:
    """Index just past the ``)`` closing the group that opens at ``start``, skipping classes and escapes."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                i += 1
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {pattern!r}")


def hyperscan_pattern(pattern: str, caseless: bool = False) -> str:
    """A pattern Hyperscan compiles that matches wherever the Python ``re`` ``pattern`` matches (and a little
    more): the prefilter may let a text through needlessly, never hide a match.

    Hyperscan has no look-arounds or back-references, and its ``\\w``, ``\\s``, ``\\b`` and ``\\d`` are ASCII
    (its Unicode mode multiplies compile time ~15x). So every construct is widened, never narrowed:
    look-behinds, inner look-aheads and ``\\b`` are dropped, a back-reference becomes the group it repeats,
    ``\\w`` and ``\\s`` also accept any non-ASCII character, ``\\d`` also takes full-width digits (see
    :data:`_DIGITS`), and ``\\uXXXX`` is spelt ``\\x{XXXX}``. Hyperscan's Unicode case folding is not quite
    Python's (``re.IGNORECASE`` also equates İ and ı with i), so under ``caseless`` a cased non-ASCII literal
    (the é of allée) becomes "any non-ASCII character", and so does a class holding one; an uncased letter
    (CJK, as in a context word) stays itself, and i, s, k and ASCII classes holding them also take the
    non-ASCII letters ``re`` equates with them (:data:`_ASCII_PARTNERS`). A trailing ``(?![...])`` becomes
    "one character outside [...] or the end": the same texts pass, but a candidate reports one match end
    instead of one per extra digit.
    """
    groups: list[str] = []
    out: list[str] = []
    i, in_class, negated, class_start, class_at = 0, False, False, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i + 1]
            if escape == "u":
                out.append(f"\\x{{{pattern[i + 2:i + 6]}}}")
                i += 6
                continue
            if escape in "ws":
                widened = rf"\{escape}" + ("" if negated else _NON_ASCII)
                out.append(widened if in_class else f"[{widened}]")
            elif escape == "d":
                out.append(_DIGITS if in_class else f"[{_DIGITS}]")
            elif escape == "b" and not in_class:
                pass
            elif escape.isdigit():
                out.append(f"(?:{groups[int(escape) - 1]})")
            elif escape in "WSDBAZ":
                raise ValueError(f"no Hyperscan widening for \\{escape} in {pattern!r}")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            if not in_class and caseless and not negated:
                source = pattern[class_start:i + 1]
                # first in the class: after a trailing "-" it would be a range
                if not source.isascii():
                    out.insert(class_at + 1, _NON_ASCII)
                else:
                    out.insert(class_at + 1, "".join(rf"\x{{{ord(c):x}}}" for c in _ASCII_PARTNERS
                                                     if re.fullmatch(source, c, re.IGNORECASE)))
            out.append(char)
            i += 1
            continue
        if caseless and (not char.isascii() or char in _ASCII_PARTNERS_OF):
            if not char.isascii() and char.lower() == char == char.upper():
                out.append(char)  # uncased (CJK): re compiles it as an exact literal even under IGNORECASE
            elif char.isascii():
                out.append(f"[{char}{_ASCII_PARTNERS_OF[char]}]")
            else:
                out.append(f"[{_NON_ASCII}]")
            i += 1
            continue
        if char == "[":
            class_start, class_at = i, len(out)
            in_class, negated = True, pattern[i + 1:i + 2] == "^"
            out.append(char)
            if negated:
                out.append("^")
                i += 1
            i += 1
            continue
        if pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            close = _group_end(pattern, i)
            body = pattern[i + 3:close - 1] if pattern[i + 2] in "!=" else pattern[i + 4:close - 1]
            # only a plain class can be negated safely: a widened \\w or \\s inside would narrow once negated
            simple_class = re.fullmatch(r"\[[^\]^\\]*(?:\\[^ws][^\]^\\]*)*\]", body) is not None
            if close == len(pattern) and pattern.startswith("(?!", i) and simple_class and body.isascii():
                out.append(f"(?:[^{hyperscan_pattern(body)[1:-1]}]|$)")
            i = close
            continue
        if char == "(" and not pattern.startswith("(?", i):
            groups.append(hyperscan_pattern(pattern[i + 1:_group_end(pattern, i) - 1], caseless))
        out.append(char)
        i += 1
    return "".join(out)


def reach(pattern: str, flags: int = 0) -> int | None:
    """How far before a reported match end a match can start: the pattern's longest match, plus one for a
    trailing look-ahead class that Hyperscan consumes (:func:`hyperscan_pattern`); None when unbounded.

    A window must hold a whole match or the windowed run differs from the whole-text run (an e-mail with a
    64-character local part and a long domain starts more than a fixed 100 characters before its end).
    """
    import importlib

    parser = importlib.import_module("re._parser")  # the width re itself computes; no public API exposes it
    longest = int(parser.parse(pattern, flags).getwidth()[1])
    return longest + 1 if longest < MAX_REACH else None


def _compile(rules: Sequence[IdentifierRule]) -> tuple[Any, list[int | None], int] | None:
    """One database: pattern ``i`` is rule ``i``; rules with context words get one more id, the words; the
    last id is "a digit Hyperscan's patterns do not know" (:func:`_other_digits`)."""
    try:
        import hyperscan
    except ImportError:
        return None
    patterns: list[bytes] = []
    flags: list[int] = []
    context_ids: list[int | None] = []
    for rule in rules:
        caseless = bool(rule.flags & re.IGNORECASE)
        patterns.append(hyperscan_pattern(rule.prefilter or rule.pattern, caseless).encode("utf-8"))
        flags.append(hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_CASELESS if caseless else 0))
    for rule in rules:
        if rule.context:
            context_ids.append(len(patterns))
            words = (hyperscan_pattern(re.escape(word), caseless=True) for word in rule.context)
            patterns.append("|".join(words).encode("utf-8"))
            flags.append(hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_CASELESS)  # not SINGLEMATCH: once per batch
        else:
            context_ids.append(None)
    other_digits = len(patterns)
    patterns.append(_other_digits().encode("utf-8"))
    flags.append(hyperscan.HS_FLAG_UTF8)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=flags)
    return db, context_ids, other_digits


class IdentifierTier:
    """Pattern recognizers with validators; thread-unsafe (one per worker process)."""

    def __init__(self, rules: Sequence[IdentifierRule] = RULES, use_hyperscan: bool = True) -> None:
        self.rules = tuple(rules)
        compiled = _compile(self.rules) if use_hyperscan else None
        self.db: Any = None
        self._context_ids: list[int | None] = []
        self._other_digits = -1
        #: what a text gets when Hyperscan cannot vouch for it: every rule, on the whole text
        self._everything: tuple[tuple[IdentifierRule, Windows], ...] = tuple((rule, None) for rule in self.rules)
        if compiled is not None:
            import hyperscan

            self.db, self._context_ids, self._other_digits = compiled
            self.db.scratch = hyperscan.Scratch(self.db)
        self.engine = "hyperscan" if self.db is not None else "re"
        # a rule's own prefilter is the head of its pattern: a match starts within the head's reach of its end
        self._reach = [reach(rule.prefilter or rule.pattern, rule.flags) for rule in self.rules]

    def candidates_many(self, texts: Sequence[str]) -> list[list[tuple[IdentifierRule, Windows]]]:
        """Rules to run per text -- and, in long texts, where -- from one Hyperscan pass per batch.

        One call for the batch instead of one per text: the per-call cost in Python, not the matching, is
        what limits a tier that mostly proves texts clean. A text that is not valid UTF-8 (a lone surrogate
        from a JSON escape) is not given to Hyperscan, whose UTF-8 mode is undefined on it, and one with a
        digit outside :data:`_DIGITS` is beyond the patterns' widening: every rule runs on those.
        """
        if self.db is None:
            return [list(self._everything) for _ in texts]
        encoded: list[bytes] = []
        invalid: list[int] = []
        for index, text in enumerate(texts):
            try:
                encoded.append(text.encode("utf-8"))
            except UnicodeEncodeError:
                encoded.append(b"")
                invalid.append(index)
        starts = list(accumulate((len(b) + len(_SEPARATOR) for b in encoded), initial=0))
        hits: dict[tuple[int, int], list[int]] = {}

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            index = bisect_right(starts, end - 1) - 1
            key = (index, pattern_id)
            ends = hits.get(key)  # not setdefault: that builds a throw-away list on every one of ~40k calls
            if ends is None:
                hits[key] = [end - starts[index]]
            elif len(ends) <= MAX_WINDOWS:  # one past the cap marks "too many: run on the whole text"
                ends.append(end - starts[index])

        buffer = _SEPARATOR.join(encoded) + _SEPARATOR
        self.db.scan(buffer, match_event_handler=on_match)
        found: dict[int, list[tuple[int, list[int]]]] = {}
        n_rules = len(self.rules)
        for (index, pattern_id), ends in hits.items():
            if pattern_id < n_rules:
                context = self._context_ids[pattern_id]
                if context is None or (index, context) in hits:
                    found.setdefault(index, []).append((pattern_id, ends))
        out: list[list[tuple[IdentifierRule, Windows]]] = [[] for _ in texts]
        for index, fired in found.items():  # only texts with a candidate: most texts never get here
            text = texts[index]
            windowed = len(text) > WINDOW_MIN_TEXT
            if windowed and not text.isascii():  # Hyperscan reports byte offsets; windows need characters
                to_char = _char_offsets(encoded[index], {end for _, ends in fired for end in ends})
                fired = [(rule_id, [to_char[end] for end in ends]) for rule_id, ends in fired]
            out[index] = [(self.rules[rule_id], _windows(ends, len(text), self._reach[rule_id])
                           if windowed and len(ends) <= MAX_WINDOWS else None) for rule_id, ends in sorted(fired)]
        for index in invalid + [index for index, pattern_id in hits if pattern_id == self._other_digits]:
            out[index] = list(self._everything)
        return out

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        texts = [text if text.isascii() else text.translate(_HALF_WIDTH) for text in texts]
        return [self._run(text, rules) if rules else [] for text, rules in
                zip(texts, self.candidates_many(texts), strict=True)]

    def find(self, text: str) -> list[Span]:
        return self.find_many([text])[0]

    def _run(self, text: str, rules: Sequence[tuple[IdentifierRule, Windows]]) -> list[Span]:
        spans: list[Span] = []
        for rule, windows in rules:
            matches: Iterable[re.Match[str]]
            if windows is None:
                matches = rule.compiled.finditer(text)
            else:
                matches = []
                for lo, hi in windows:
                    part = list(rule.compiled.finditer(text, lo, hi))
                    if part and part[-1].end() == hi < len(text):  # cut by the window: redo on the whole text
                        matches = list(rule.compiled.finditer(text))
                        break
                    matches.extend(part)
            group = rule.group
            for match in matches:
                start, end = match.span(group)
                value = match.group(group)
                if not value or (rule.context and not context_ok(rule, text, start)):
                    continue
                if not value.isascii():  # full-width digits (Chinese IMEs) are checked as the digits they are
                    value = unicodedata.normalize("NFKC", value)
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


def _windows(ends: list[int], size: int, before: int | None) -> list[tuple[int, int]]:
    """Merged [start, end) windows around prefilter match ends, wide enough for any full match: ``before``
    characters back (:func:`reach`; None: from the start of the text) and :data:`WINDOW_AFTER` on."""
    merged: list[tuple[int, int]] = []
    for end in sorted(ends):
        lo, hi = 0 if before is None else max(0, end - before), min(size, end + WINDOW_AFTER)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep the best of overlapping spans: higher score, then longer, then earlier.

    This is where an SSN-shaped or CN-ID-shaped number stops also being reported as a phone number. Spans
    only compete with the spans they overlap, so the choice is made per cluster of overlapping spans (a
    sweep by start), each in :func:`_best_first`: linear in the number of spans, where comparing every span
    with every kept one took minutes on a single 7 MB record of e-mail addresses.
    """
    if len(spans) < 2:
        return spans
    by_start = sorted(spans, key=lambda s: (s.start, s.end))
    kept: list[Span] = []
    cluster = [by_start[0]]
    reach_end = by_start[0].end
    for span in by_start[1:]:
        if span.start < reach_end:
            cluster.append(span)
            reach_end = max(reach_end, span.end)
        else:
            kept.extend(_best_first(cluster))
            cluster, reach_end = [span], span.end
    kept.extend(_best_first(cluster))
    return kept


def _best_first(cluster: list[Span]) -> list[Span]:
    """Greedy by priority within one cluster; the kept spans stay sorted by start, so one ``bisect`` finds
    the only kept span that could overlap a candidate."""
    if len(cluster) == 1:
        return cluster
    starts: list[int] = []
    kept: list[Span] = []
    for span in sorted(cluster, key=lambda s: (-s.score, -(s.end - s.start), s.start, s.recognizer)):
        at = bisect_left(starts, span.end)  # kept[:at] start before this span ends
        if at and kept[at - 1].end > span.start:
            continue
        starts.insert(at, span.start)
        kept.insert(at, span)
    return kept

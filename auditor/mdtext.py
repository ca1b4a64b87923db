"""Markdown text that stays text: one escaper for every Markdown auditor writes (report.md, the gate's
Markdown summary, ``policies show --format markdown``).

Values come from plans, policies and scans (masked examples look like ``<PERSON len=5 Xxxxx>``, which a
renderer would take for an HTML tag), so each is made inert for CommonMark / GitHub Flavored Markdown:
inline markup characters are backslash-escaped, ``|`` cannot end a table cell, a line break cannot start a
new block, and ``<`` cannot open a tag, comment or autolink. What cannot do harm is left as written, so a
reader of the raw file sees ``a && b`` and ``x < 5``, not ``&amp;&amp;`` and ``&lt;``: the HTML entities
that are right in HTML are noise in Markdown, and wrong inside code spans, where they show literally.
"""

from __future__ import annotations

import re

#: inline markup anywhere in a value: emphasis, code, links, table cells, strikethrough, escapes, headings
_INLINE = re.compile(r"([\\`*_\[\]|#~])")
#: ``<`` that would open a tag (``<b>``, ``</b>``), a comment or declaration (``<!``), a processing
#: instruction (``<?``) or an autolink (``<https:...>``); ``x < 5`` and ``<=`` cannot
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
#: ``&`` that would start a character reference (``&lt;``, ``&#60;``); ``&&`` and ``R&D`` cannot
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
#: a value that opens a line could start a block: a quote (``>``), a list item (``- ``, ``+ ``, ``1. ``), a
#: thematic break or setext underline (``---``); ``-5``, ``2.9`` and ``+49`` cannot
_BLOCK_START = re.compile(r"^(\s*)(>|[+\-](?=\s|$)|-(?=-)|\d{1,9}(?=[.)](?:\s|$)))")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def md_text(value: object) -> str:
    """``value`` as one line of inert Markdown text (for paragraphs and table cells alike)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _INLINE.sub(r"\\\1", text)
    text = _TAG_OPEN.sub(r"\\<", text)
    text = _ENTITY.sub(r"\\&", text)
    return _BLOCK_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if not m.group(2).isdigit()
                            else f"{m.group(1)}{m.group(2)}\\", text)


def md_code(value: object, in_table: bool = False) -> str:
    """``value`` as an inline code span on one line, whatever backticks it holds (CommonMark's rule: a
    fence longer than any run of backticks inside, padded with a space when the text touches a backtick).
    In a table cell ``|`` is escaped too, as GFM requires even in code spans (and removes again)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"

"""A CJK font embedded in the report, subset to the characters it shows.

Reports are read years later on machines we do not know, and a regulator's PDF viewer has no fallback for a
font the PDF does not carry: Chinese names of laws, a Chinese controller or purpose, masked examples (``字``)
would print as empty boxes. System fonts cover Latin text everywhere (DejaVu on Linux, the usual faces
elsewhere), so only CJK glyphs are embedded: Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (SIL OFL
1.1, installed with auditor, offline), cut down with fontTools to exactly the characters of this report. The
same subset goes into the HTML as a ``data:`` URI (no external fetch) and, through the HTML, into the PDF,
where WeasyPrint embeds it again.
"""

from __future__ import annotations

import base64
import io
import re
from functools import lru_cache
from pathlib import Path

#: The family name the stylesheet lists after the Latin faces; the embedded subset answers to it.
FAMILY = "Auditor Noto Sans CJK SC"
_FACE = "Noto Sans CJK SC"

#: Han (with extensions A-G), kana, Hangul, CJK symbols and punctuation, full-width forms, enclosed CJK.
_CJK = re.compile("[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3200-\u33ff\u3400-\u4dbf"
                  "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]")


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, sorted, so the same report yields the same subset."""
    return "".join(sorted(set(_CJK.findall(text))))


@lru_cache(maxsize=1)
def _font_path() -> Path | None:
    """The collection file, or ``None`` when the font package is missing (then system fonts are used)."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


@lru_cache(maxsize=8)
def subset_font(characters: str) -> bytes | None:
    """An OpenType font holding only ``characters`` (and what shaping them needs), or ``None``."""
    path = _font_path()
    if path is None or not characters:
        return None
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        font = next((f for f in collection.fonts if f["name"].getDebugName(1) == _FACE), None)
        if font is None:
            return None
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]  # the copyright and OFL notice stay with the glyphs
        options.notdef_outline = True
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        return out.getvalue()
    finally:
        collection.close()


def font_face_css(text: str) -> str:
    """The ``@font-face`` rule for the CJK characters of ``text``; empty when it has none."""
    data = subset_font(cjk_characters(text))
    if data is None:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return (f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; '
            f'src: url(data:font/otf;base64,{encoded}) format("opentype"); }}')


def embed(html: str) -> str:
    """``html`` with the subset's ``<style>`` placed before ``</head>`` (or first, for a template without one)."""
    css = font_face_css(html)
    if not css:
        return html
    style = f'<style id="auditor-cjk-font">{css}</style>'
    head = html.lower().find("</head>")
    return html[:head] + style + html[head:] if head >= 0 else style + html

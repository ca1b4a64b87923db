"""Jinja rendering of the report (HTML, Markdown) and the PDF made from the same HTML.

Every template runs in Jinja's :class:`SandboxedEnvironment` with ``StrictUndefined``: the built-in ones so
that there is one code path, user ones (``--templates DIR``) because a template is code and may come from
anyone. The sandbox blocks ``__class__``-style attribute walks, the loader cannot leave its folders, and the
context holds plain JSON data only. HTML is autoescaped; the Markdown environment is not (HTML entities are
noise in Markdown) and passes every ``{{ }}`` value through :func:`md_escape` instead, so text from a
dataset (masked examples, field names) can never become markup, break a table or open an HTML tag.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from auditor.errors import InputError
from auditor.mdtext import md_text
from auditor.report import fonts
from auditor.report.evidence import EvidenceBundle
from auditor.report.sandbox import BoundedSandbox, bounded_render
from auditor.report.view import SigningInfo, template_context

Format = Literal["html", "md", "pdf"]
FORMATS: tuple[Format, ...] = ("html", "md", "pdf")
TEMPLATE_NAMES = {"html": "report.html.j2", "md": "report.md.j2"}
OUTPUT_NAMES = {"html": "report.html", "md": "report.md", "pdf": "report.pdf"}

_PACKAGE = Path(__file__).resolve().parent.parent


def builtin_templates() -> Path:
    """``auditor/_data/templates`` in an installed wheel, ``<repo>/templates`` in a source checkout."""
    installed = _PACKAGE / "_data" / "templates"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "templates"


def md_escape(value: Any) -> Any:
    """Make a value inert in Markdown (:func:`auditor.mdtext.md_text`): no HTML, no links, no emphasis, no
    table breaks, one line -- and no HTML entities, which a Markdown reader would see as ``&amp;&amp;``.

    ``Markup`` values pass unchanged, so a template can opt out explicitly (``|safe``), as in HTML.
    """
    if value is None or isinstance(value, Markup | bool | int | float):
        return value
    return md_text(value)


def safe_url(value: Any) -> str:
    """Only http(s) links are rendered as links: a policy file must not smuggle ``javascript:`` URLs."""
    text = str(value or "").strip()
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc else ""


def fmt_num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


class _FileLoader(FileSystemLoader):
    """Templates are user input too: a FIFO or device named like a template would block the render, and a
    huge file would be read whole; each is refused like any other input file."""

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        from jinja2.loaders import split_template_path

        from auditor.yamlio import check_input_file

        parts = split_template_path(template)
        for folder in self.searchpath:
            candidate = Path(folder, *parts)
            if candidate.exists() or candidate.is_symlink():
                check_input_file(candidate, "template", max_bytes=4 * 1024 * 1024)
                break
        return super().get_source(environment, template)


def _environment(kind: Literal["html", "md"], user_dir: Path | None) -> SandboxedEnvironment:  # bounded
    loaders: list[FileSystemLoader] = [_FileLoader(str(user_dir))] if user_dir is not None else []
    loaders.append(FileSystemLoader(str(builtin_templates())))
    if kind == "html":
        env = BoundedSandbox(loader=ChoiceLoader(loaders), autoescape=True, undefined=StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    else:
        env = BoundedSandbox(loader=ChoiceLoader(loaders), autoescape=False, undefined=StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=md_escape)
        env.filters["md"] = md_escape
    env.filters["safe_url"] = safe_url
    env.filters["num"] = fmt_num
    env.globals["html_escape"] = escape
    return env


def render_text(kind: Literal["html", "md"], evidence: EvidenceBundle, signing: SigningInfo,
                templates: Path | None = None) -> str:
    """Render one text format; template problems become one InputError line naming the template."""
    if templates is not None and not Path(templates).is_dir():
        raise InputError(f"{templates}: --templates must be a folder holding report.html.j2 / report.md.j2")
    env = _environment(kind, Path(templates) if templates is not None else None)
    name = TEMPLATE_NAMES[kind]
    try:
        template = env.get_template(name)
        return bounded_render(template.generate(**template_context(evidence, signing)))
    except TemplateNotFound as exc:
        raise InputError(f"{templates or builtin_templates()}: template not found: {exc.name}") from None
    except SecurityError as exc:
        raise InputError(f"{_where(templates, name)}: template refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        file, line = _template_position(exc, _where(templates, name))
        raise InputError(f"{file}{f':{line}' if line else ''}: template error: {exc.message}") from None
    except RecursionError:
        raise InputError(f"{_where(templates, name)}: template recurses without end (it includes or extends "
                         "itself)") from None
    except (OverflowError, MemoryError, ArithmeticError) as exc:  # range() over MAX_RANGE, float overflow
        raise InputError(f"{_where(templates, name)}: template refused: {type(exc).__name__} "
                         f"({str(exc)[:120]})") from None


def _template_position(exc: TemplateError, default: str) -> tuple[str, int | None]:
    """File and line of a template error: syntax errors carry them, runtime ones only in the traceback."""
    line = getattr(exc, "lineno", None)
    file = getattr(exc, "filename", None)
    if line is None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".j2"):
                return frame.filename, frame.lineno
    return file or default, line


def _where(templates: Path | None, name: str) -> str:
    return str(Path(templates) / name) if templates is not None else str(builtin_templates() / name)


def render_pdf(html: str) -> bytes:
    """The PDF is the HTML printed by WeasyPrint (A4, from the template's print CSS), fetching nothing."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from weasyprint.urls import URLFetcher

    # data: URLs only (the embedded CJK subset): a report never reaches outside itself, whatever it links
    document = HTML(string=html, base_url=None, url_fetcher=URLFetcher(allowed_protocols={"data"}))
    # PDF/UA-1: tagged, with the language and title set, so screen readers and archives read it in order
    pdf = document.write_pdf(pdf_variant="pdf/ua-1")
    if not isinstance(pdf, bytes):  # pragma: no cover - WeasyPrint returns bytes when no target is given
        raise TypeError("WeasyPrint returned no bytes")
    return pdf


def render_all(evidence: EvidenceBundle, signing: SigningInfo, formats: tuple[Format, ...] = FORMATS,
               templates: Path | None = None) -> dict[str, bytes]:
    """Render every asked format in memory (output file name → bytes), so a failure writes nothing."""
    out: dict[str, bytes] = {}
    html: str | None = None
    if "html" in formats or "pdf" in formats:
        html = fonts.embed(render_text("html", evidence, signing, templates))
    if "html" in formats and html is not None:
        out[OUTPUT_NAMES["html"]] = html.encode("utf-8")
    if "md" in formats:
        out[OUTPUT_NAMES["md"]] = render_text("md", evidence, signing, templates).encode("utf-8")
    if "pdf" in formats and html is not None:
        out[OUTPUT_NAMES["pdf"]] = render_pdf(html)
    return out


def parse_formats(value: str) -> tuple[Format, ...]:
    """``html,md,pdf`` → a tuple in canonical order; unknown names are a usage error naming the option."""
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise InputError(f"--format: unknown format {', '.join(unknown) or '(empty)'}; use html, md, pdf")
    return tuple(f for f in FORMATS if f in names)

"""Rendered-report check: what a reader actually sees, as pictures to look at and facts to assert.

Runs ``auditor audit examples/plan.yaml --no-train`` (the example's Chinese records put CJK text in the
report), then checks the outputs the way their consumers read them:

- ``pdffonts`` (poppler) lists an embedded CJK font; without poppler, the PDF's font dictionaries are read;
- ``pdfinfo`` says the PDF is tagged (PDF/UA);
- every PDF page becomes a PNG (``pdftoppm``) and the HTML a full-page screenshot (headless Chromium), with
  the first page's ink height reported (a half-empty first page reads as a mistake);
- the HTML loads nothing from outside (no ``src=``/``href=`` to http(s) or file URLs).

It prints where the pictures are: open them. Exit 1 when a check fails.

    python benchmarks/render_check.py [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "examples" / "plan.yaml"


def _pdf_fonts(pdf: Path) -> list[str]:
    if shutil.which("pdffonts"):
        lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        return [line.split()[0] for line in lines.splitlines()[2:] if line.strip()]
    data = pdf.read_bytes()
    parts = [data]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, flags=re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return sorted({m.decode() for m in re.findall(rb"/BaseFont /([A-Za-z0-9+-]+)", b"\n".join(parts))})


def _ink_height(png: Path) -> float | None:
    """Share of the page height down to the last non-white row (footer excluded)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    image = Image.open(png).convert("L")
    width, height = image.size
    body = height - int(height * 0.06)  # the running footer sits in the bottom margin
    last = 0
    pixels = image.load()
    assert pixels is not None
    for y in range(body):
        if any(pixels[x, y] < 200 for x in range(0, width, 3)):
            last = y
    return last / height


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Folder for the audit and the pictures (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="auditor-render-"))
    audit, pictures = out / "audit", out / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "auditor", "audit", str(PLAN), "--out", str(audit), "--no-train",
                           "--force", "--quiet", "--ledger", str(out / "ledger")], cwd=REPO, capture_output=True,
                          text=True, check=False)
    if not (audit / "report.pdf").is_file():
        print(done.stdout + done.stderr)
        return 1
    failures: list[str] = []
    fonts = _pdf_fonts(audit / "report.pdf")
    cjk = [f for f in fonts if "CJK" in f]
    print(f"PDF fonts: {', '.join(fonts)}")
    if not cjk:
        failures.append("no CJK font embedded in report.pdf")
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(audit / "report.pdf")], capture_output=True, text=True).stdout
        tagged = re.search(r"^Tagged:\s+(\w+)", info, flags=re.M)
        pages = re.search(r"^Pages:\s+(\d+)", info, flags=re.M)
        print(f"PDF tagged: {tagged.group(1) if tagged else '?'}; pages: {pages.group(1) if pages else '?'}")
        if not tagged or tagged.group(1) != "yes":
            failures.append("report.pdf is not tagged")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(audit / "report.pdf"), str(pictures / "page")],
                       check=True)
        first = sorted(pictures.glob("page-*.png"))[0]
        ink = _ink_height(first)
        if ink is not None:
            print(f"first page filled to {ink:.0%} of its height")
            if ink < 0.75:
                failures.append(f"first page only {ink:.0%} filled")
    else:
        print("pdftoppm not found: no page pictures (apt install poppler-utils)")
    html = (audit / "report.html").read_text(encoding="utf-8")
    if re.search(r"""(\ssrc\s*=\s*["']?|<link[^>]+href\s*=\s*["']?|url\(\s*["']?)(https?:|file:|//)""", html,
                 flags=re.I):
        failures.append("report.html loads something from outside")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={pictures / 'report-html.png'}", "--window-size=1100,4000",
                        (audit / "report.html").as_uri()], capture_output=True, check=False, timeout=120)
    else:
        print("no Chromium found: no HTML screenshot")
    print(f"look at: {pictures}/ ({len(list(pictures.glob('*.png')))} pictures)")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

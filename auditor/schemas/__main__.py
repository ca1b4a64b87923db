"""``python -m auditor.schemas``: regenerate the shipped schema files from the models."""

from __future__ import annotations

from pathlib import Path

from auditor.schemas import SCHEMAS, dumps, file_name, generate


def main() -> None:
    folder = Path(__file__).resolve().parent
    for name in SCHEMAS:
        path = folder / file_name(name)
        text = dumps(generate(name))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()

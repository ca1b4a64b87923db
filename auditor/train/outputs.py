"""What a training run leaves in ``--out``: the model folder, written so that it is never half there.

Checked before any step or ε reservation (:func:`output_folder`), saved by swapping a finished temporary
folder in (:func:`save_model`).
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable
from pathlib import Path

from auditor.errors import TrainingInputError
from auditor.fsutil import ensure_folder
from auditor.train.evidence import Versions
from auditor.train.tasks.base import Saved

EVIDENCE_FILE = "training.json"


def output_folder(out_dir: Path) -> Path:
    """Check ``--out`` before any step is trained or any ε reserved: a file there, or a ``model/`` folder that
    no auditor run wrote (no ``training.json`` beside it), would otherwise surface only after training --
    the first as an internal error with ε reserved, the second by deleting the user's files."""
    ensure_folder(out_dir, "--out")
    model = out_dir / "model"
    if model.exists() and not (out_dir / EVIDENCE_FILE).is_file() and (not model.is_dir() or any(model.iterdir())):
        raise TrainingInputError(f"{model}: --out already holds a model/ that auditor did not write (no "
                                 f"{EVIDENCE_FILE} beside it); choose another --out or move it away")
    return out_dir


def save_model(write: Callable[[Path], Saved], out_dir: Path) -> Saved:
    """The task writes into a temporary folder, which is then swapped in: never a half-written model
    directory."""
    tmp = out_dir / ".model.tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        saved = write(tmp)
        final = out_dir / "model"
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except OSError as exc:  # a full disk or a read-only --out: say where, not "internal error"
        shutil.rmtree(tmp, ignore_errors=True)
        raise TrainingInputError(f"{out_dir}: cannot save the trained model ({exc.strerror or type(exc).__name__})"
                                 ) from None
    return saved


def versions() -> Versions:
    from importlib.metadata import version

    import auditor

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "unknown"

    return Versions(auditor=auditor.__version__, python=platform.python_version(), torch=v("torch"),
                    transformers=v("transformers"), opacus=v("opacus"), dp_accounting=v("dp-accounting"),
                    peft=v("peft"))

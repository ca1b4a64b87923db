"""Small file helpers: outputs are written atomically so a failure never leaves a half-written file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError


def ensure_writable(path: Path, what: str = "output", protect: Sequence[Path] = ()) -> Path:
    """Fail early, in one line, for an output path that cannot be written -- before hours of scanning or
    training are spent, and before any sibling output is written.

    Creates the missing parent folders (as :func:`atomic_write` would) and proves the folder writable with
    a temporary file. ``protect`` lists inputs (the dataset) that an output must never overwrite.
    """
    path = Path(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise InputError(f"{path}: not a file name for the {what}")
    for source in protect:
        if path.resolve() == Path(source).resolve():
            raise InputError(f"{path}: the {what} would overwrite an input file; choose another path")
    fd, tmp = _temp_beside(path, what, ".probe")
    os.close(fd)
    os.unlink(tmp)
    return path


def atomic_write(path: Path, data: bytes | str, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, then rename over it.

    ``mode`` defaults to what a plain ``open()`` would give (0666 less the umask): ``mkstemp`` makes its file
    0600, and a report, a gate result or an envelope that only its writer can read is no use to a reviewer.
    An OS error (no such folder, a file where a folder should be, no permission) is an :class:`InputError`
    naming the path, not an internal error.
    """
    path = Path(path)
    fd, tmp = _temp_beside(path, "output", ".tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else default_file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_folder(folder: Path, what: str = "the output folder") -> Path:
    """Make ``folder`` (and its parents) or say in one line why it cannot be: a file where it or a parent
    should be, no permission. Called before anything is rendered or signed into it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: {what} must be a folder, and this is a file")
    _no_file_above(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create {what}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: cannot write into {what}: permission denied")
    return folder


def _no_file_above(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{path}: {parent} is a file, not a folder")
            return


def _temp_beside(path: Path, what: str, suffix: str) -> tuple[int, str]:
    """A temporary file in ``path``'s folder (made if missing), or one line saying why there can be none."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory; the {what} needs a file path")
    _no_file_above(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None


def default_file_mode() -> int:
    """What a plain ``open()`` gives a new file (0666 less the umask); ``mkstemp`` gives 0600."""
    return 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0)  # the only way to read it; set straight back
    os.umask(current)
    return current


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so large datasets and model weights do not load into memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()

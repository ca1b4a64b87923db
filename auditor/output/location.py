"""Where the plan is, as code scanning needs it: a percent-encoded path relative to the repository root.

GitHub matches ``artifactLocation.uri`` against the files of the commit, so the path must be relative to the
repository's top level whatever folder the gate ran in, and a SARIF file must never carry the absolute path of
the machine that wrote it. The root is the nearest folder above the plan that holds ``.git`` (a folder in a
clone, a file in a worktree or submodule), found without running git; ``--repo-root`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

#: The SARIF ``uriBaseId`` for the repository root (the name GitHub and the SARIF SDK use).
SRCROOT = "%SRCROOT%"

#: Characters RFC 3986 allows unencoded in a path segment (``pchar``), except ``:``: a colon in the first
#: segment of a relative reference would read as a URI scheme (``c:plan.yaml``), so it is always encoded.
_PATH_SAFE = "/!$&'()*+,;=@"


@dataclass(frozen=True)
class PlanLocation:
    """The plan as a SARIF artifact: ``uri`` for the log, ``path`` (decoded) for fingerprints and categories."""

    uri: str
    path: str
    base_id: str | None = SRCROOT
    note: str = ""  # why the location is less than a repository path; shown in the log and on stderr
    root: Path | None = field(default=None, compare=False, repr=False)  # this machine's; never written out

    def relative(self, path: Path) -> str:
        """Another input (a policy file) as the log may name it: its repository path, else its file name."""
        if self.root is not None:
            try:
                return path.resolve().relative_to(self.root).as_posix()
            except ValueError:
                pass
        return path.name

    @classmethod
    def from_typed(cls, typed: str) -> PlanLocation:
        """A location from a path alone, for callers that render without :func:`locate_plan`.

        A relative path without ``..`` is taken as relative to the repository root; anything else keeps only
        the file name, so no local folder leaks into the log.
        """
        path = PurePosixPath(Path(typed).as_posix())
        if path.is_absolute() or ".." in path.parts or not path.parts:
            return _name_only(Path(typed).name or "plan.yaml", f"{Path(typed).name or 'the plan'} is not a path "
                                                                 "relative to the repository root")
        return cls(uri=encode_path(str(path)), path=str(path))


def encode_path(posix_path: str) -> str:
    """Percent-encode a ``/``-separated path as an RFC 3986 relative reference (UTF-8, as SARIF asks)."""
    return quote(posix_path, safe=_PATH_SAFE)


def find_repo_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git``; ``None`` outside any repository."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def locate_plan(plan: Path, repo_root: Path | None = None) -> PlanLocation:
    """Where ``plan`` is relative to ``repo_root`` (default: :func:`find_repo_root` above the plan).

    Symlinks are resolved first: code scanning cannot show a result reported in a symlinked file. A plan
    outside the root (or outside any repository) is reported by file name only, with a note that says why.
    """
    resolved = plan.resolve()
    root = repo_root.resolve() if repo_root is not None else find_repo_root(resolved.parent)
    if root is None:
        return _name_only(resolved.name, f"no repository (.git) above {resolved.name}; give --repo-root DIR")
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        return _name_only(resolved.name, f"{resolved.name} is outside the repository root given by --repo-root",
                          root)
    posix = relative.as_posix()
    return PlanLocation(uri=encode_path(posix), path=posix, root=root)


def _name_only(name: str, why: str, root: Path | None = None) -> PlanLocation:
    return PlanLocation(uri=encode_path(name), path=name, base_id=None, root=root,
                        note=f"{why}: the SARIF location is the file name only, which code scanning cannot "
                             "match to a file of the repository")

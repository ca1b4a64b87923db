"""One error base class carrying a user-facing diagnostic and an exit code.

``auditor.cli.main`` catches :class:`AuditorError` once and prints its message as a single line; anything
else is an internal error (exit 3). Messages must never contain raw personal data from a scanned dataset:
name the file, the field, the line, the record index -- never the value.
"""

from __future__ import annotations

from typing import Any


class AuditorError(Exception):
    """Base class: ``str(error)`` is shown to the user as is; ``exit_code`` is what the process returns."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(AuditorError):
    """A file the user named is missing, unreadable, or not what it claims to be."""


class PlanError(InputError):
    """The training plan is not valid; the message names the file, the field path and the line."""


class PolicyLoadError(InputError):
    """A policy or waiver file is not valid; the message names the file, the rule and the field."""


class ScanError(InputError):
    """The dataset cannot be scanned as asked (missing file, unknown format, unknown text field)."""


class TrainingInputError(InputError):
    """The training cannot start because of its inputs (labels, model path, device, too little data)."""


class GateFailed(AuditorError):
    """The compliance gate refused: findings at or above the threshold, or a privacy budget exceeded.

    ``gate`` is the :class:`~auditor.findings.GateResult` that refused, when a gate ran (its ``blocking()``
    findings say why); None for a refusal by the ledger or the DP settings."""

    exit_code = 1

    def __init__(self, message: str, gate: Any = None) -> None:
        super().__init__(message)
        self.gate = gate


class VerificationFailed(AuditorError):
    """A signed report does not verify: signature, payload or a subject's digest is wrong."""

    exit_code = 1


class InternalError(AuditorError):
    """A bug or an environment problem we did not anticipate; reported with exit code 3."""

    exit_code = 3

"""The privacy ledger: every ε ever spent on one dataset, so composition across runs is accounted for.

NIST SP 800-226 asks that composition be accounted across every training run on the same data. Each dataset
(by sha256) has an append-only JSON-lines file with a hash chain; a run *reserves* its planned ε before the
first step and *settles* it with the ε actually spent. A run that dies mid-training (``kill -9``) leaves its
reservation standing, so the ledger can only over-report, never under-report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerEntry(_Frozen):
    """One line of a ledger file; ``hash`` covers every other field and the previous line's hash."""

    seq: int = Field(ge=0)
    kind: Literal["reserve", "spend"]
    run_id: str
    dataset_sha256: str
    epsilon: float = Field(ge=0)
    delta: float = Field(ge=0)
    accountant: str
    plan_sha256: str | None = None
    at: str
    prev: str
    hash: str


class LedgerTotals(_Frozen):
    """Composed spending on one dataset (basic composition: ε and δ add up across runs)."""

    dataset_sha256: str
    runs: int = Field(ge=0, description="Runs that reserved budget on this dataset")
    epsilon_reserved: float = Field(ge=0, description="ε of runs reserved, not settled (running or killed)")
    epsilon_spent: float = Field(ge=0, description="ε of settled runs, as actually spent")
    composed_epsilon: float = Field(ge=0, description="spent + still reserved: what composition counts")
    composed_delta: float = Field(default=0.0, ge=0)
    max_epsilon_allowed: float | None = Field(default=None, description="The policies' maximum, when known")

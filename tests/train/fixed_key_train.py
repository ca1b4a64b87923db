"""``python -m tests.train.fixed_key_train [--stop-before-step K] ARGS...``: auditor's command line with the
DP mechanism's secret key fixed, for tests that compare a torchrun run with a single-process one drawing the
same batches and noise (the key is a fresh secret in every real run). ``--stop-before-step K`` interrupts
the run (as Ctrl-C would, on every rank) when it is about to draw step K's batch."""

from __future__ import annotations

import sys

from auditor.privacy import randomness

FIXED_KEY = b"\x5a" * randomness.KEY_BYTES


def fix_key() -> None:
    randomness.fresh_key = lambda: FIXED_KEY  # type: ignore[assignment]


def stop_before_step(step: int) -> None:
    from auditor.train import finetune

    draw = finetune.UnitSampler.__call__
    calls = [0]

    def sample(self: finetune.UnitSampler) -> list[int]:
        calls[0] += 1
        if calls[0] >= step:
            raise KeyboardInterrupt
        return draw(self)

    finetune.UnitSampler.__call__ = sample  # type: ignore[method-assign]


if __name__ == "__main__":
    args = sys.argv[1:]
    fix_key()
    if args[:1] == ["--stop-before-step"]:
        stop_before_step(int(args[1]))
        args = args[2:]
    from auditor.cli import main

    main(args)

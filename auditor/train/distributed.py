"""Training on several processes: ``torchrun --nproc-per-node N -m auditor train PLAN``, with Opacus DPDDP.

What has to hold for the guarantee to be the one a single process gives, and how it is kept:

* **One global Poisson draw per step.** Rank 0 makes the run's secret mechanism key and hands it to the other
  ranks over the process group, in memory (never written): every rank then draws the *same* batch from the
  same ChaCha20 stream (:class:`~auditor.train.finetune.UnitSampler`, each unit with probability q, one record
  per person) and trains on its own share of it (every ``world``-th index). The accountant's q is the one
  the draw used. (Opacus' non-Poisson distributed loader trains every rank on the whole batch, Opacus #444;
  its Poisson one draws per rank from the dataset's shards -- ours keeps a person's records together.)
* **Noise once.** Each rank clips its share; Opacus' ``DistributedDPOptimizer`` all-reduces the sums; only
  rank 0 adds Gaussian noise, drawn from :class:`~auditor.privacy.randomness.MechanismRandom`. The other
  ranks skip that draw in their copy of the stream, so every copy stays in step for the next batch.
  Opacus scales each rank by ``E / world`` and averages: the update is (Σ clipped + noise) / E, as on one
  process. A rank whose share is empty still takes part, with zero gradients (every rank must join the
  all-reduce, and an empty global batch is still a noisy step).
* **One ledger entry, one evidence file.** Rank 0 alone checks and reserves in the ledger, settles it,
  saves the checkpoint (0600) and the model, runs the leakage audit and writes training.json; the others
  receive what they need from it (the gate's requirement, a checkpoint to resume) over the process group.
* **Resumable at the same world size.** The checkpoint records the world size; another one is refused
  (the draw would be shared out differently, and the run would no longer be the one recorded).

Transport: gradients over NCCL on GPUs, gloo on CPUs; the key, the requirement and the checkpoint over a
separate gloo group. Neither is encrypted: run the ranks of one job on machines and a network you trust
with the data itself.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from typing import Any, TypeVar

from auditor.errors import AuditorError
from auditor.privacy.randomness import KEY_BYTES, MechanismRandom

T = TypeVar("T")

#: How long ranks wait for rank 0 on the control group: through a dataset scan before the gate, and
#: through evaluation, saving and the leakage audit at the end. A rank that dies ends the job through
#: torchrun long before this.
CONTROL_TIMEOUT = _dt.timedelta(hours=48)


class PeerStopped(AuditorError):
    """Rank 0 stopped the run (bad input, a refusal): the other ranks stop with the same exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self) -> tuple[Any, ...]:
        return PeerStopped, (self.message, self.exit_code)


class Group:
    """This process's place in a run. ``Group()`` is a single process (rank 0 of 1), where every method is
    what one process would do anyway; :func:`launch` gives the torchrun one."""

    def __init__(self, rank: int = 0, world: int = 1, control: Any = None) -> None:
        self.rank, self.world, self.control = rank, world, control

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def broadcast(self, value: T | None) -> T:
        """Rank 0's ``value`` on every rank (pickled over the control group, in memory)."""
        if not self.distributed:
            assert value is not None
            return value
        import torch.distributed as dist

        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]  # type: ignore[return-value]

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 and give its result to every rank; if it fails with one of our errors, rank
        0 raises it and the others raise :class:`PeerStopped` with its message and exit code."""
        if not self.distributed:
            return work()
        outcome: tuple[str, Any, int] | None = None
        failure: AuditorError | None = None
        if self.is_main:
            try:
                outcome = ("ok", work(), 0)
            except AuditorError as exc:
                failure, outcome = exc, ("error", exc.message, exc.exit_code)
        kind, value, code = self.broadcast(outcome)
        if failure is not None:
            raise failure
        if kind == "error":
            raise PeerStopped(f"rank {self.rank}: rank 0 stopped the run: {value}", code)
        return value  # type: ignore[no-any-return]

    def shared_source(self) -> MechanismRandom | None:
        """The run's mechanism randomness, the same on every rank: rank 0's fresh key, sent as bytes over
        the control group (None on a single process: :func:`~auditor.train.prepare.prepare` makes it)."""
        if not self.distributed:
            return None
        import torch
        import torch.distributed as dist

        key = torch.zeros(KEY_BYTES, dtype=torch.uint8)
        source = MechanismRandom() if self.is_main else None
        if source is not None:
            key.copy_(torch.frombuffer(bytearray(bytes.fromhex(source.state()["key"])), dtype=torch.uint8))
        dist.broadcast(key, src=0, group=self.control)
        return source if source is not None else MechanismRandom(bytes(key.tolist()))

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed: the world size (recorded only when it is not 1, so a
        single process's checkpoints read as before)."""
        return {"world_size": self.world} if self.distributed else {}

    def stepper(self) -> ShardedStep | None:
        return ShardedStep(self) if self.distributed else None

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def launched() -> bool:
    """Whether torchrun started this process as one of several (its documented environment)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "LOCAL_RANK" in os.environ


def launch(device: Callable[[], str]) -> Group:
    """The process group torchrun set up for this rank (NCCL when ``device()`` is ``cuda``, else gloo), plus a
    gloo control group; a single-process :class:`Group` (``device`` not called) when not started by torchrun."""
    if not launched():
        return Group()
    import torch
    import torch.distributed as dist

    kind = device()
    if kind == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    return Group(dist.get_rank(), dist.get_world_size(), control)


class ShardedStep:
    """One logical step on this rank: its share of the global draw, or a zero contribution when the share
    is empty; Opacus' distributed optimizer does the rest (all-reduce, rank 0's noise, the update)."""

    def __init__(self, group: Group) -> None:
        self.group = group

    @property
    def is_main(self) -> bool:
        return self.group.is_main

    def __call__(self, dp: Any, cfg: Any, model: Any, data: Any, indices: list[int], task: Any) -> None:
        from auditor.train import finetune

        share = indices[self.group.rank::self.group.world]
        if share:
            finetune.logical_step(dp, cfg, model, data, share, task)
            return
        import torch

        for p in dp.optimizer.params:
            if dp.mode == "hooks":  # Opacus clips per-sample gradients: none, so a zero sum
                p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
            else:  # ghost and book-keeping clipping leave the clipped sum in p.grad
                p.grad = torch.zeros_like(p)
        dp.optimizer.step()
        dp.optimizer.zero_grad()


def wrap(model: Any, group: Group | None) -> Any:
    """The module handed to Opacus: DPDDP on several ranks (it broadcasts rank 0's weights, and makes Opacus
    choose its distributed optimizer), the model itself on one."""
    if group is None or not group.distributed:
        return model
    from opacus.distributed import DifferentiallyPrivateDistributedDataParallel as DPDDP

    return DPDDP(model)


def world_mismatch(written: int, here: int, where: object) -> str:
    """Why a checkpoint written at another world size is refused, and how to resume it."""
    how = f"torchrun --nproc-per-node {written} -m auditor train ... --resume" if written > 1 else \
        "auditor train ... --resume, in one process"
    return (f"{where}: cannot resume: the checkpoint was written by {written} process(es), this run has {here}; "
            f"resume it as it ran: {how}")


__all__ = ["CONTROL_TIMEOUT", "Group", "PeerStopped", "ShardedStep", "launch", "launched", "world_mismatch",
           "wrap"]

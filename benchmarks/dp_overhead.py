"""DP overhead: the same model, data, batch and steps, non-DP vs DP-SGD, in one process; prints ratios.

    python benchmarks/dp_overhead.py                         # bundled MiniLM, seq 64, top 2 layers + head
    python benchmarks/dp_overhead.py --trainable-layers -1   # every layer, embeddings included
    python benchmarks/dp_overhead.py --mode ghost            # Opacus' ghost clipping instead of book-keeping
    python benchmarks/dp_overhead.py --tiny --steps 3        # a 2-layer BERT built from a config (smoke)
    python benchmarks/dp_overhead.py --task causal-lm --batch 8 --physical 8 --seq-len 128
                                                             # DP-LoRA vs LoRA on the bundled SmolLM2

Throughput is samples per second over the timed steps (a warm-up step is excluded); peak memory is the
largest resident-set growth above the phase's starting RSS (sampled every 5 ms; CUDA: max allocated).
A discarded warm-up of both phases comes first; then the phases alternate ``--repeats`` times, best of each.
Targets: classifier DP throughput ≥ 0.8x and peak memory ≤ 1.3x of non-DP; causal-lm (DP-LoRA vs LoRA)
≥ 0.95x and ≤ 1.2x (anchors: dp-transformers 0.89x; Opacus PR #830 0.98x at 1.22x memory on GPT-2 LoRA).
The anchor (non-DP) runs in the same process, so machine load shifts both numbers alike; repeat on a quiet
machine for final figures.
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


PLAN = """version: 1
name: dp-overhead-benchmark
dataset: {{path: none.jsonl, text_fields: [text]{label}}}
model: {{base: "{base}", task: {task}}}
training: {{max_seq_len: {seq_len}{extra}}}
"""


def _loaded(args: argparse.Namespace, device: str) -> tuple[Any, Any]:
    """The model as ``auditor train`` builds it (the task's own ``load``: frozen layers, or LoRA adapters
    attached after the move to ``device``), or with ``--tiny`` a 2-layer model from a config."""
    import tempfile
    from pathlib import Path

    import torch

    from auditor.plan import load_plan
    from auditor.train.model import resolve_model_path
    from auditor.train.tasks import for_task

    task = for_task(args.task)
    torch.manual_seed(0)
    if args.tiny:
        return _tiny(args, device), task
    lm = args.task == "causal-lm"
    extra = (f", lora: {{r: {args.lora_r}, target_modules: [q_proj, v_proj]}}" if lm else
             "" if args.trainable_layers < 0 else f", trainable_layers: {args.trainable_layers}")
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "plan.yaml"
        plan.write_text(PLAN.format(label="" if lm else ", label_field: label", task=args.task,
                                    base="bundled:smollm2" if lm else "bundled:minilm", seq_len=args.seq_len,
                                    extra=extra), encoding="utf-8")
        doc = load_plan(plan)
        loaded = task.load(doc, resolve_model_path(doc), device)
    return loaded.model.train(), task


def _tiny(args: argparse.Namespace, device: str) -> Any:
    from transformers import BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

    from auditor.train.tasks.classification import freeze_lower_layers

    if args.task == "causal-lm":
        from peft import LoraConfig, get_peft_model

        model = LlamaForCausalLM(LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128,
                                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                             max_position_embeddings=256))
        model.requires_grad_(False)
        model.to(device)  # before peft, as the task does (Opacus #820)
        return get_peft_model(model, LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r,
                                                target_modules=["q_proj", "v_proj"])).train()
    model = BertForSequenceClassification(BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
        max_position_embeddings=128, num_labels=4))
    freeze_lower_layers(model, None if args.trainable_layers < 0 else args.trainable_layers)
    return model.to(device).train()


def _data(args: argparse.Namespace, model: Any, n: int) -> Any:
    """Random ids (no special tokens at the low end of the vocabulary): labels for a classifier, every
    position a target for a causal LM."""
    import torch

    from auditor.train.encoded import Encoded

    gen = torch.Generator().manual_seed(1)
    vocab = int(model.config.vocab_size)
    ids = torch.randint(min(1000, vocab // 2), vocab, (n, args.seq_len), generator=gen).tolist()
    if args.task == "causal-lm":
        return Encoded(ids=ids, labels=[0] * n, pad_id=0, targets=[list(row) for row in ids])
    return Encoded(ids=ids, labels=(torch.arange(n) % 4).tolist(), pad_id=0)


def _phase(dp: bool, args: argparse.Namespace, device: str) -> dict[str, float]:
    import torch

    from auditor.privacy.randomness import MechanismRandom
    from auditor.train.finetune import make_private

    _release()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    meter = PeakRss()
    with meter:
        base_cuda = torch.cuda.memory_allocated() if device == "cuda" else 0
        model, task = _loaded(args, device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        n = args.batch * (args.steps + 1)
        data = _data(args, model, n)
        reduce: Any = torch.mean
        handles: Any = None
        if dp:
            handles = make_private(model, optimizer, train_size=n, batch_size=args.batch, sigma=1.0, clip=1.0,
                                   mode=args.mode, accountant="prv", source=MechanismRandom())
            optimizer, reduce = handles.optimizer, handles.reduce
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
                    # both phases average each physical batch's per-example losses the same way
                    loss = reduce(task.losses(model, batch, device))
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
    del model, optimizer, data, handles
    _release()
    return {"samples_per_s": args.batch * args.steps / timed,
            "peak_mb": peak_cuda if device == "cuda" else meter.peak - meter.base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["sequence-classification", "causal-lm"], default="sequence-classification",
                        help="causal-lm: LoRA on the bundled SmolLM2 (q_proj, v_proj)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer BERT / Llama from a config (smoke)")
    parser.add_argument("--lora-r", type=int, default=8, help="causal-lm: LoRA rank")
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
        "task": args.task, "model": _model_name(args), "mode": args.mode,
        **({"lora_r": args.lora_r} if args.task == "causal-lm" else {"trainable_layers": args.trainable_layers}),
        "batch": args.batch, "physical": args.physical, "seq_len": args.seq_len,
        "steps": args.steps, "repeats": args.repeats, "non_dp": anchor, "dp": private,
        "throughput_ratio": private["samples_per_s"] / anchor["samples_per_s"],
        "peak_memory_ratio": private["peak_mb"] / anchor["peak_mb"] if anchor["peak_mb"] > 0 else None,
    }
    print(json.dumps(result, indent=2))


def _model_name(args: argparse.Namespace) -> str:
    if args.task == "causal-lm":
        return "tiny-llama" if args.tiny else "bundled:smollm2"
    return "tiny-bert" if args.tiny else "bundled:minilm"


if __name__ == "__main__":
    main()

"""``run_training``: the enforced DP fine-tune as a library call (the CLI and ``auditor audit`` use it).

Order matters for the guarantee: settings are resolved against the requirement and the data actually
loaded, the noise is calibrated, the planned ε is *reserved* in the ledger, and only then does the first
step run. Outputs (model, ``training.json``) are written atomically at the end. Heavy libraries are imported
inside the functions.
"""

from __future__ import annotations

import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.errors import TrainingInputError
from auditor.fsutil import atomic_write, ensure_folder, sha256_file
from auditor.plan import PlanDocument
from auditor.privacy import accounting
from auditor.privacy.ledger import Ledger
from auditor.privacy.requirements import PrivacyRequirement
from auditor.train.data import load_training_data
from auditor.train.evidence import ClippingInfo, EvalMetrics, TrainingEvidence, Versions
from auditor.train.settings import resolve_settings

EVIDENCE_FILE = "training.json"


def run_training(doc: PlanDocument, *, requirement: PrivacyRequirement, out_dir: Path,
                 ledger_dir: Path | None = None, resume: bool = False, seed: int | None = None,
                 progress: bool = True, dataset_sha256: str | None = None) -> TrainingEvidence:
    """Train under the requirement; refuse (GateFailed) what the policies forbid, exit 2 for bad input."""
    import torch

    from auditor.train import finetune
    from auditor.train.model import freeze_lower_layers, load_model, resolve_device, resolve_model_path

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    wall_start = time.perf_counter()
    plan = doc.plan
    spec = plan.training
    seed = spec.seed if seed is None else seed
    out_dir = _output_folder(Path(out_dir))

    data = load_training_data(doc)
    settings = resolve_settings(doc, requirement, data.privacy_units)
    device = resolve_device(doc)
    model_path = resolve_model_path(doc)
    dataset_sha = dataset_sha256 or sha256_file(doc.dataset_path)

    train_units = len(data.train)
    steps = finetune.planned_steps(train_units, spec.batch_size, spec.epochs)
    q = accounting.sample_rate_for(train_units, spec.batch_size)
    sigma = 0.0
    if settings.dp:
        assert settings.target_epsilon is not None and settings.delta is not None
        sigma = accounting.calibrate_noise(settings.target_epsilon, settings.delta, q, steps,
                                           settings.accountant, source=str(doc.source))

    checkpoint_path = out_dir / "checkpoint" / finetune.CHECKPOINT
    checkpoint: dict[str, Any] | None = None
    if resume:
        if not checkpoint_path.is_file():
            raise TrainingInputError(f"{checkpoint_path}: --resume given but there is no checkpoint to resume")
        checkpoint = finetune.load_checkpoint(checkpoint_path)

    torch.manual_seed(seed)
    tokenizer, model = load_model(doc, model_path)
    layers = freeze_lower_layers(model, spec.trainable_layers)
    model.to(device)
    model.train()  # from_pretrained returns eval mode; Opacus needs training mode before make_private
    params = [p for p in model.parameters() if p.requires_grad]
    # Adam on noisy clipped gradients is post-processing: the guarantee is the same as for SGD, and with the
    # few large steps DP favours it converges far faster.
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=0.0)
    encoded = finetune.encode(tokenizer, data.train, spec.max_seq_len)

    ledger = Ledger(ledger_dir)
    requested = plan.privacy.clipping if settings.dp else "none"
    fallback: str | None = None
    stop_reason, stop_detail = "completed", ""
    records: list[Any] = []
    run_id = ""
    steps_taken = 0
    resumed = checkpoint is not None
    if settings.dp:
        assert settings.delta is not None and settings.max_grad_norm is not None
        assert settings.target_epsilon is not None
        dp, mode, fallback = _attach_dp(model, optimizer, requested, train_size=train_units,
                                        batch_size=spec.batch_size, sigma=sigma, clip=settings.max_grad_norm,
                                        accountant=settings.accountant, noise_seed=seed + 1)
        sampler = torch.Generator(device="cpu").manual_seed(seed)
        fingerprint = {"plan_sha256": doc.sha256, "dataset_sha256": dataset_sha, "sigma": sigma,
                       "sample_rate": q, "delta": settings.delta, "steps": steps, "seed": seed,
                       "clipping": mode}
        cfg = finetune.LoopConfig(sigma=sigma, sample_rate=q, delta=settings.delta,
                                  clip=settings.max_grad_norm, accountant=settings.accountant,
                                  planned_steps=steps, epsilon_cap=settings.target_epsilon,
                                  physical_batch_size=spec.physical_batch_size, device=device,
                                  checkpoint_dir=checkpoint_path.parent, fingerprint=fingerprint)
        if checkpoint is not None:
            state = finetune.restore(checkpoint, cfg, model, dp, sampler)
            if ledger.reservation(dataset_sha, state.run_id) is None:
                raise TrainingInputError(f"{checkpoint_path}: run {state.run_id} has no open reservation in "
                                         f"the privacy ledger {ledger.path_for(dataset_sha)}; cannot resume")
        else:
            state = finetune.LoopState()
            ledger.reserve(dataset_sha256=dataset_sha, run_id=state.run_id, epsilon=settings.target_epsilon,
                           delta=settings.delta, accountant=settings.accountant, plan_sha256=doc.sha256,
                           max_epsilon_allowed=settings.max_epsilon_allowed,
                           bound_by=requirement.bound_by.get("max_epsilon", ""))
        with _progress(progress, steps, state.step) as on_step:
            outcome = finetune.dp_loop(cfg, state, model, dp, encoded, sampler, on_step)
        stop_reason, stop_detail = outcome.stop_reason, outcome.stop_detail
        records, run_id, steps_taken = outcome.state.records, outcome.state.run_id, outcome.state.step
        dp.hooks.cleanup()  # back to a plain HF model before save_pretrained
    else:
        import uuid

        run_id = uuid.uuid4().hex
        mode = "none"
        steps_taken = _plain_loop(model, optimizer, encoded, spec.physical_batch_size, steps, spec.batch_size,
                                  device, seed)

    eval_metrics = _evaluate(model, finetune.encode(tokenizer, data.eval, spec.max_seq_len) if data.eval else None,
                             spec.physical_batch_size, device, plan.model.num_labels)
    weights_sha = _save_model(model, tokenizer, out_dir)

    last = records[-1] if records else None
    eps_spent = max(last.epsilon_opacus, last.epsilon_pld) if last else 0.0
    if settings.dp:
        assert settings.delta is not None
        ledger.settle(dataset_sha256=dataset_sha, run_id=run_id, epsilon=eps_spent, delta=settings.delta,
                      accountant=settings.accountant, plan_sha256=doc.sha256,
                      max_epsilon_allowed=settings.max_epsilon_allowed)
        shutil.rmtree(checkpoint_path.parent, ignore_errors=True)

    evidence = TrainingEvidence(
        run_id=run_id, plan_name=plan.name, plan_sha256=doc.sha256, dataset_sha256=dataset_sha,
        model_base=plan.model.base, model_weights_sha256=weights_sha,
        records=data.records, train_records=len(data.train), eval_records=len(data.eval), unit=data.unit,
        privacy_units=data.privacy_units, mechanism=plan.privacy.mechanism if settings.dp else "none",
        noise_multiplier=sigma, sample_rate=q, max_grad_norm=settings.max_grad_norm,
        logical_batch_size=spec.batch_size, physical_batch_size=spec.physical_batch_size,
        clipping=ClippingInfo(requested=requested, used=mode, fallback_reason=fallback,
                              trainable_parameters=sum(p.numel() for p in params),
                              total_parameters=sum(p.numel() for p in model.parameters()),
                              trainable_layers=layers),
        epochs_planned=spec.epochs, steps_planned=steps, steps=steps_taken, learning_rate=spec.learning_rate,
        accountant=settings.accountant, target_epsilon=settings.target_epsilon,
        max_epsilon_allowed=settings.max_epsilon_allowed, delta=settings.delta,
        epsilon_opacus=last.epsilon_opacus if last else (0.0 if settings.dp else None),
        epsilon_pld=last.epsilon_pld if last else (0.0 if settings.dp else None),
        epsilon=eps_spent if settings.dp else None, epsilon_per_step=records, settings=settings.settings,
        requirement=requirement, stop_reason=stop_reason, stop_detail=stop_detail,
        eval=eval_metrics, device=device, precision="bf16" if device == "cuda" else "fp32",
        versions=_versions(), seed=seed, resumed=resumed, started_at=started_at,
        wall_time_s=time.perf_counter() - wall_start)
    atomic_write(out_dir / EVIDENCE_FILE, evidence.model_dump_json(indent=2) + "\n")
    return evidence


class _progress:
    """A rich progress bar (stderr) with loss and ε spent; a no-op when ``progress`` is off."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled, self.total, self.done = enabled, total, done
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss {task.fields[loss]}  ε {task.fields[eps]}"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=False)
        self.bar.start()
        task = self.bar.add_task("train", total=self.total, completed=self.done, loss="-", eps="0")

        def on_step(state: Any) -> None:
            rec = state.records[-1]
            loss = f"{rec.loss:.3f}" if rec.loss is not None else "-"
            self.bar.update(task, completed=state.step, loss=loss,
                            eps=f"{max(rec.epsilon_opacus, rec.epsilon_pld):.3f}")

        return on_step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


FALLBACKS = {"bookkeeping": ("bookkeeping", "ghost", "hooks"), "ghost": ("ghost", "hooks"), "hooks": ("hooks",)}


def _attach_dp(model: Any, optimizer: Any, requested: str, **kwargs: Any) -> tuple[Any, str, str | None]:
    """The requested clipping mode, else the next one that attaches; the reason is kept for the evidence.

    Every mode clips each example's whole gradient to the same C, so a fallback changes speed, never the
    guarantee; the last mode (per-sample hooks) failing is a real error and propagates.
    """
    from auditor.train import finetune

    reasons: list[str] = []
    chain = FALLBACKS[requested]
    for mode in chain:
        try:
            dp = finetune.make_private(model, optimizer, mode=mode, **kwargs)
        except Exception as exc:  # a layer type the mode cannot clip: try the next, and say so
            if mode == chain[-1]:
                raise
            reasons.append(f"{mode} clipping unsupported ({exc if str(exc) else type(exc).__name__})")
            continue
        return dp, mode, ("; ".join(reasons) + f"; used {mode}") if reasons else None
    raise AssertionError("unreachable: the last mode either attaches or raises")


def _plain_loop(model: Any, optimizer: Any, data: Any, physical: int, steps: int, batch_size: int,
                device: str, seed: int) -> int:
    """Non-private training (only when no policy requires DP and the plan says ``mechanism: none``)."""
    import torch

    from auditor.train import finetune

    generator = torch.Generator().manual_seed(seed)
    n = len(data.labels)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order += torch.randperm(n, generator=generator).tolist()
        batch, order = order[:batch_size], order[batch_size:]
        for part in finetune.chunks(batch, physical):
            b = data.batch(part, device)
            loss = torch.nn.functional.cross_entropy(finetune.forward(model, b, device), b.labels,
                                                     reduction="sum") / len(batch)
            loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        optimizer.zero_grad()
    return steps


def _evaluate(model: Any, data: Any, physical: int, device: str, num_labels: int) -> EvalMetrics:
    """Accuracy and macro-F1 on the held-out split (aggregates only)."""
    if data is None:
        return EvalMetrics(records=0)
    import torch

    from auditor.train import finetune

    model.eval()
    predictions: list[int] = []
    with torch.no_grad():
        for part in finetune.chunks(list(range(len(data.labels))), physical * 2):
            predictions += finetune.forward(model, data.batch(part, device), device).argmax(-1).tolist()
    labels = data.labels
    accuracy = sum(int(p == y) for p, y in zip(predictions, labels, strict=True)) / len(labels)
    f1s = []
    for c in range(num_labels):
        tp = sum(1 for p, y in zip(predictions, labels, strict=True) if p == c and y == c)
        fp = sum(1 for p, y in zip(predictions, labels, strict=True) if p == c and y != c)
        fn = sum(1 for p, y in zip(predictions, labels, strict=True) if p != c and y == c)
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return EvalMetrics(records=len(labels), accuracy=accuracy, macro_f1=sum(f1s) / len(f1s) if f1s else None)


def _output_folder(out_dir: Path) -> Path:
    """Check ``--out`` before any step is trained or any ε reserved: a file there, or a ``model/`` folder that
    no auditor run wrote (no ``training.json`` beside it), would otherwise surface only after training --
    the first as an internal error with ε reserved, the second by deleting the user's files."""
    ensure_folder(out_dir, "--out")
    model = out_dir / "model"
    if model.exists() and not (out_dir / EVIDENCE_FILE).is_file() and (not model.is_dir() or any(model.iterdir())):
        raise TrainingInputError(f"{model}: --out already holds a model/ that auditor did not write (no "
                                 f"{EVIDENCE_FILE} beside it); choose another --out or move it away")
    return out_dir


def _save_model(model: Any, tokenizer: Any, out_dir: Path) -> str:
    """save_pretrained into a temporary folder, then swap it in: never a half-written model directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    final = out_dir / "model"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    weights = final / "model.safetensors"
    return sha256_file(weights) if weights.is_file() else ""


def _versions() -> Versions:
    from importlib.metadata import version

    import auditor

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "unknown"

    return Versions(auditor=auditor.__version__, python=platform.python_version(), torch=v("torch"),
                    transformers=v("transformers"), opacus=v("opacus"), dp_accounting=v("dp-accounting"))

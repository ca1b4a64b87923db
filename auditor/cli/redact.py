"""``auditor redact``: parse arguments, run :func:`auditor.redact.run.run_redaction`, say what it did."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from auditor.cli.options import engine_options
from auditor.redact.model import MODES, Mode


@click.command("redact", short_help="Redact or pseudonymise a dataset, with evidence the gate checks.")
@click.argument("dataset", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The redacted dataset (same format as DATASET); OUTPUT.redaction.json is written beside it.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None,
              help="Take the dataset, format and text fields from a training plan, and also redact the special "
                   "categories its policies read.")
@click.option("--text-field", "text_fields", multiple=True,
              help="Field to redact; repeat for several; dotted paths reach into nested JSON. Default: text.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet", "text"]), default=None,
              help="Dataset format (default: from the file name; .gz is read and written transparently).")
@click.option("--mode", type=click.Choice(MODES), default="mask", show_default=True,
              help="mask: <PERSON>; pseudonym: <PERSON_7f3a09c1>, the same token for the same value (keyed "
                   "HMAC); remove: drop the span.")
@click.option("--entities", default=None, metavar="E,...",
              help="Entity types (PERSON, EMAIL_ADDRESS, ...) or categories (direct_identifier, health, ...) to "
                   "replace. Default: every direct identifier, plus with --plan the special categories its "
                   "policies read.")
@click.option("--key", "key_path", type=click.Path(path_type=Path), default=None,
              help="Pseudonym key file, created (0600) if absent. Default: redaction.key in the user's auditor "
                   "config folder. Never written into any output.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is also off when stderr is not a terminal).")
@engine_options
def redact(dataset: Path | None, output: Path, plan_path: Path | None, text_fields: tuple[str, ...],
           fmt: str | None, mode: str, entities: str | None, key_path: Path | None, workers: int | None,
           no_progress: bool, engine: str, ray_address: str | None) -> None:
    """Rewrite DATASET with its personal data replaced, and record the proof in OUTPUT.redaction.json: both
    files' sha256, what was replaced, and a re-scan of the output. Point a plan's
    dataset.redaction_evidence at that file and the gate checks the chain."""
    from auditor.redact.entities import select_entities
    from auditor.redact.run import RedactOptions, run_redaction

    plan = None
    if plan_path is not None:
        from auditor.plan import load_plan

        doc = load_plan(plan_path)
        plan = doc.plan
        dataset = dataset or doc.require_dataset()
        fmt = fmt or plan.dataset.format
        text_fields = text_fields or tuple(plan.dataset.text_fields)
    if dataset is None:
        raise click.UsageError("name a DATASET file or pass --plan PLAN")
    chosen, source = select_entities(entities, plan)
    outcome = run_redaction(RedactOptions(
        path=dataset, output=output, text_fields=text_fields or ("text",), format=fmt, mode=cast(Mode, mode),
        entities=tuple(chosen), entities_from=source, key_path=key_path, workers=workers,
        progress=not no_progress, engine=engine, ray_address=ray_address))
    ev = outcome.evidence
    if outcome.key_created:
        click.echo(f"created the pseudonym key {outcome.key_path} (0600): keep it secret and keep it; the same "
                   "key gives the same tokens in later runs", err=True)
    replaced = ", ".join(f"{name} {count.spans:,}" for name, count in ev.replaced.items()) or "nothing"
    click.echo(f"redacted {ev.records:,} records ({ev.records_changed:,} changed) in {ev.duration_s:.1f}s "
               f"({ev.records_per_s:,.0f} rec/s), {mode}: {replaced}; wrote {outcome.output} and "
               f"{outcome.evidence_path}", err=True)
    left = {name: count for name, count in ev.residual.entities.items() if name in ev.entities}
    if left:
        shown = ", ".join(f"{name} in {count.records:,} records" for name, count in left.items())
        click.echo(f"auditor: warning: the re-scan of the output still finds {shown} (the replacement changed "
                   "their context); the evidence records them, and the gate will see them", err=True)

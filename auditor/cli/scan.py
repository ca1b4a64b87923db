"""``auditor scan``: parse arguments, run :func:`auditor.scan.api.scan_dataset`, write scan.json."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli.options import engine_options


@click.command("scan", short_help="Scan a dataset for personal data, offline, into scan.json.")
@click.argument("dataset", type=click.Path(path_type=Path), required=False)
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None,
              help="Take the dataset, format, text fields and user id field from a training plan.")
@click.option("--text-field", "text_fields", multiple=True,
              help="Field to scan; repeat for several; dotted paths reach into nested JSON "
                   "(messages.content). Default: text.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet", "text"]), default=None,
              help="Dataset format (default: from the file name; .gz is read transparently).")
@click.option("--user-id-field", default=None, help="Field naming the person, to count distinct users.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write scan.json here (atomically); without it the JSON goes to standard output.")
@click.option("--findings", "findings_path", type=click.Path(path_type=Path), default=None,
              help="Write one JSON line per detected span (record, field, entity, offsets, score; never the value).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes, or Ray actors with --engine ray (default: all cores; on Ray: its CPUs).")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Scan a uniform random sample of N records; scan.json reports estimates and 95% upper bounds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --sample.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is also off when stderr is not a terminal).")
@engine_options
def scan(dataset: Path | None, plan_path: Path | None, text_fields: tuple[str, ...], fmt: str | None,
         user_id_field: str | None, output: Path | None, findings_path: Path | None, workers: int | None,
         sample: int | None, seed: int, no_progress: bool, engine: str, ray_address: str | None) -> None:
    """Scan DATASET (JSONL, CSV, Parquet or text; optionally gzip) for personal data, offline."""
    from auditor.api import scan as scan_data

    if plan_path is not None:
        from auditor.plan import load_plan

        doc = load_plan(plan_path)
        spec = doc.plan.dataset
        dataset = dataset or doc.require_dataset()  # a missing file names the plan's dataset.path and line
        fmt = fmt or spec.format
        text_fields = text_fields or tuple(spec.text_fields)
        user_id_field = user_id_field or spec.user_id_field
    if dataset is None:
        raise click.UsageError("name a DATASET file or pass --plan PLAN")
    if fmt is None and dataset.suffix.lower() in (".yaml", ".yml"):
        raise click.UsageError(f"{dataset}: a YAML file is a plan, not a dataset: pass --plan {dataset} to scan "
                               "the plan's dataset, or --format to read it as data")
    _check_outputs(dataset, output, findings_path)
    result = scan_data(dataset, text_fields=list(text_fields) or ["text"], format=fmt,
                       user_id_field=user_id_field, workers=workers, sample=sample, findings=findings_path,
                       output=output, progress=not no_progress, seed=seed, engine=engine, ray_address=ray_address)
    if output is None:
        click.echo(result.model_dump_json(indent=2))
    with_pd = result.records_with_personal_data
    share = with_pd / result.records_scanned if result.records_scanned else 0.0
    sampled = " (sample)" if result.sample else ""
    errors = f", {result.read_errors_total} unreadable and skipped" if result.read_errors_total else ""
    if errors and result.read_errors:
        first = result.read_errors[0]
        errors += f", as training skips them (first: line {first.line}, {first.reason.removesuffix(', skipped')})"
    click.echo(f"scanned {result.records_scanned} of {result.records} records{sampled} in {result.duration_s:.1f}s "
               f"({result.records_per_s:,.0f} rec/s): {with_pd} with personal data ({share:.0%}), "
               f"{len(result.entities)} entity types{errors}" + (f"; wrote {output}" if output else ""),
               err=True)
    sys.stdout.flush()


def _check_outputs(dataset: Path, output: Path | None, findings_path: Path | None) -> None:
    """Refuse an unusable ``-o`` before the scan, not after it: a scan can take hours, and a failure at the
    end would leave the findings file written but no scan.json. It may not be the dataset (it would be
    overwritten) nor the findings file; ``run_scan`` checks ``--findings`` itself, for every caller."""
    from auditor.errors import InputError
    from auditor.fsutil import ensure_writable

    if output is None:
        return
    ensure_writable(output, "scan result", protect=[dataset])
    if findings_path is not None and findings_path.resolve() == output.resolve():
        raise InputError(f"{findings_path}: --findings and -o name the same file; choose two paths")


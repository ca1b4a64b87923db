"""``auditor schema [NAME]``: print a published JSON Schema (check, scan, evidence, training, plan)."""

from __future__ import annotations

import click


@click.command("schema", short_help="Print the JSON Schema of an output (or of the plan).")
@click.argument("name", required=False)
def schema(name: str | None) -> None:
    """Print the JSON Schema NAME describes, as shipped with this version; without NAME, list them.

    Validate a pipeline's inputs with any JSON Schema tool, e.g. check-jsonschema --schemafile
    <(auditor schema check) result.json.
    """
    from auditor.errors import InputError
    from auditor.schemas import DESCRIPTIONS, SCHEMAS, shipped

    if name is None:
        for known in SCHEMAS:
            click.echo(f"{known:<9} {DESCRIPTIONS[known]}")
        return
    if name not in SCHEMAS:
        raise InputError(f"schema: no schema named '{name}'; use one of {', '.join(SCHEMAS)}")
    click.echo(shipped(name), nl=False)

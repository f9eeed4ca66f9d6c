"""`casebridge sharing`: the information sharing agreement (validate, publish, show)."""

from __future__ import annotations

from pathlib import Path

import click

from casebridge.cli_documents import publish_document, validate_document


def _cli():  # type: ignore[no-untyped-def]
    from casebridge import cli

    return cli


@click.group()
def sharing() -> None:
    """The information sharing agreement: which agency types may see which case types."""


@sharing.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)
def sharing_validate(path: Path | None) -> None:
    """Check an agreement file (the shipped default if none given); list every problem."""
    from rules.sharing import DEFAULT_FILE, load_sharing_file

    validate_document(path or DEFAULT_FILE, load_sharing_file,
                      lambda found: f"{len(found.case_types)} case type(s)")


@sharing.command("publish")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)
@click.pass_context
def sharing_publish(click_ctx: click.Context, path: Path | None) -> None:
    """Publish an agreement file (the shipped default if none given): every access check
    reads it at once. Published versions never change."""
    from storage.sharing.services import publish, publish_default

    publish_document(click_ctx, path, label="sharing agreement", publish=publish,
                     publish_default=publish_default)


@sharing.command("show")
@click.pass_context
def sharing_show(click_ctx: click.Context) -> None:
    """The agreement in force, in words, and every published version."""
    from rules.sharing import describe
    from storage.sharing.services import agreement_in_force, history

    cli = _cli()
    ctx = click_ctx.ensure_object(cli.Context)
    with ctx.require_schema().sessions() as session:
        agreement = agreement_in_force(session)
        versions = history(session)
        source = "published" if versions else "the shipped default: none published yet"
        click.echo(f"Information sharing agreement {agreement.partnership} "
                   f"v{agreement.version} ({source})")
        if agreement.description:
            click.echo(agreement.description)
        click.echo("\nA shared case is seen by the owning agency, partnership-wide roles, and:")
        for case_type, who in describe(agreement):
            click.echo(f"  {case_type}: {who}")
        if versions:
            click.echo("\nVersions:")
        for row in versions:
            click.echo(f"  v{row.version}  {row.published_at:%Y-%m-%d %H:%M} UTC  "
                       f"{'user ' + str(row.published_by_id) if row.published_by_id else 'system'}"
                       f"  {row.content_hash[:12]}  {row.source_name}")

"""What the CLI's YAML rule documents (minimum standards, the sharing agreement) share:
checking a file with every problem listed, and publishing one as an immutable version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from storage.db import unit_of_work


def validate_document(path: Path, load: Callable[[Path], Any],
                      summary: Callable[[Any], str]) -> None:
    """`load` the file and print `summary` of it, or every problem with its line."""
    from casebridge.yamlsource import DocumentError

    try:
        found = load(path)
    except DocumentError as exc:
        click.echo("\n".join(str(p) for p in exc.problems), err=True)
        raise click.ClickException(f"{path} has {len(exc.problems)} problem(s)") from None
    click.echo(f"ok  {found.partnership} v{found.version}  {found.content_hash[:12]}  "
               f"{summary(found)}  {path}")


def publish_document(click_ctx: click.Context, path: Path | None, *, label: str,
                     publish: Callable[..., Any], publish_default: Callable[..., Any]) -> None:
    """Publish `path` (the shipped default if None) through the services, audited."""
    from casebridge import cli
    from casebridge.yamlsource import DocumentError

    ctx = click_ctx.ensure_object(cli.Context)
    try:
        with cli._service_errors(), unit_of_work(ctx.require_schema().sessions) as session:
            if path is None:
                row, new = publish_default(session, cli.CLI_ACTOR)
            else:
                row, new = publish(session, cli.CLI_ACTOR, source_text=path.read_text("utf-8"),
                                   source_name=str(path))
            state = "published" if new else "already published"
            click.echo(f"{label} {row.partnership} v{row.version}: {state} "
                       f"({row.content_hash[:12]})")
    except DocumentError as exc:
        click.echo("\n".join(str(p) for p in exc.problems), err=True)
        raise click.ClickException(f"{path} has {len(exc.problems)} problem(s)") from None

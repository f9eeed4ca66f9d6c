"""`casebridge rules`: the minimum standards (validate, publish, show), who the ladders'
single points of contact and partnership leads are, and the dry run of every rule family."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from casebridge.cli_documents import publish_document, validate_document
from storage.db import unit_of_work

# Modules that register a family with rules.preview when imported.
PREVIEW_MODULES = ("storage.standards.preview", "rules.detectors")


def _cli():  # type: ignore[no-untyped-def]
    from casebridge import cli

    return cli


@click.group()
def rules() -> None:
    """Minimum standards, escalation ladders and detectors: check, publish, try safely."""


@rules.group()
def standards() -> None:
    """The partnership's minimum standards and escalation ladders (YAML)."""


@standards.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)
def standards_validate(path: Path | None) -> None:
    """Check a standards file (the shipped default if none given); list every problem."""
    from rules.standards import DEFAULT_FILE, load_standards_file

    validate_document(path or DEFAULT_FILE, load_standards_file, lambda found: (
        f"{len(found.standards)} standard(s), {len(found.ladders)} ladder(s)"))


@standards.command("publish")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                required=False)
@click.pass_context
def standards_publish(click_ctx: click.Context, path: Path | None) -> None:
    """Publish a standards file (the shipped default if none given): every open case is
    measured against it from the next sweep. Published versions never change."""
    from storage.standards.services import publish, publish_default

    publish_document(click_ctx, path, label="standards", publish=publish,
                     publish_default=publish_default)


@standards.command("show")
@click.pass_context
def standards_show(click_ctx: click.Context) -> None:
    """The standards in force, in words, and every version with who published it."""
    from storage.standards.services import current, history, standards_of

    cli = _cli()
    ctx = click_ctx.ensure_object(cli.Context)
    with ctx.require_schema().sessions() as session:
        row = current(session)
        if row is None:
            raise click.ClickException(
                "No standards are published: `casebridge rules standards publish`")
        found = standards_of(row)
        click.echo(f"Minimum standards v{row.version} ({row.source_name}), "
                   f"calendar {found.calendar.region}, working day "
                   f"{found.calendar.day_starts:%H:%M}-{found.calendar.day_ends:%H:%M}, "
                   f"daily digest at {found.digest_at:%H:%M}")
        click.echo("\nStandards:")
        for key, standard in found.standards.items():
            scope = ", ".join(standard.case_types) or "actions"
            if standard.risk:
                scope += f" (risk {', '.join(standard.risk)})"
            click.echo(f"  {key}: {standard.name}\n    measures {scope}: "
                       f"{standard.describe_clock()}; ladder {standard.ladder}")
        click.echo("\nLadders (stops when the standard is met, or the case is paused or "
                   "closed):")
        for key, ladder in found.ladders.items():
            used = " (stage and action deadlines)" if key == found.deadlines_ladder else ""
            click.echo(f"  {key}{used}:")
            for line in ladder.describe():
                click.echo(f"    {line}")
        click.echo("\nVersions:")
        for version, who in history(session):
            click.echo(f"  v{version.version}  {version.published_at:%Y-%m-%d %H:%M} UTC  "
                       f"{who or 'system'}  {version.content_hash[:12]}  {version.source_name}")


@rules.command("contact")
@click.option("--spoc", "spoc_email", metavar="EMAIL",
              help="Make this user their agency's single point of contact.")
@click.option("--lead", "lead_email", metavar="EMAIL", help="Make this user a partnership lead.")
@click.option("--remove", is_flag=True, help="Undo: no longer the SPOC or lead.")
@click.pass_context
def contact(click_ctx: click.Context, spoc_email: str | None, lead_email: str | None,
            remove: bool) -> None:
    """Who the ladders' `spoc` (per agency) and `partnership_lead` recipients are."""
    from sqlalchemy import func, select

    from storage.accounts.models import User
    from storage.standards.services import set_partnership_lead, set_spoc

    if (spoc_email is None) == (lead_email is None):
        raise click.UsageError("Give one of --spoc EMAIL or --lead EMAIL.")
    cli = _cli()
    ctx = click_ctx.ensure_object(cli.Context)
    email = (spoc_email or lead_email or "").strip().lower()
    with cli._service_errors(), unit_of_work(ctx.require_schema().sessions) as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            raise click.ClickException(f"No user with the e-mail {email}")
        if spoc_email:
            set_spoc(session, cli.CLI_ACTOR, agency_id=user.agency_id,
                     user_id=None if remove else user.id)
            click.echo(f"{user.agency.name}: single point of contact "
                       + ("removed (its managers are told)" if remove else f"is {email}"))
        else:
            set_partnership_lead(session, cli.CLI_ACTOR, user_id=user.id, lead=not remove)
            click.echo(f"{email} is {'no longer ' if remove else ''}a partnership lead")


@rules.command("check")
@click.option("--as-of", "as_of", metavar="DATE",
              help="A date (YYYY-MM-DD, at 12:00 partnership time) or an ISO date and time; "
                   "default: now.")
@click.option("--family", "families", multiple=True,
              help="Only these rule families (standards, detectors); default: all.")
@click.pass_context
def check(click_ctx: click.Context, as_of: str | None, families: tuple[str, ...]) -> None:
    """List everything the rules would do at a moment, sending and recording nothing."""
    from casebridge import clock
    from rules import preview

    cli = _cli()
    ctx = click_ctx.ensure_object(cli.Context)
    runtime = ctx.require_schema()
    for module in PREVIEW_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            continue
    moment = _moment(as_of, runtime.settings.timezone) if as_of else clock.now()
    unknown = set(families) - set(preview.families())
    if unknown:
        raise click.UsageError(f"Unknown rule family: {', '.join(sorted(unknown))} "
                               f"(known: {', '.join(preview.families())})")
    with runtime.sessions() as session:
        found = preview.would_fire(session, moment, families or None)
        session.rollback()  # a dry run: whatever was read, nothing is kept
    click.echo(f"As of {moment.isoformat()}: {len(found)} would fire (nothing sent).")
    for hit in found:
        click.echo(f"{hit.rule:<40} {hit.subject:<30} {hit.level:<14} {hit.detail}")


def _moment(text: str, timezone: str) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("write a date like 2026-03-04 or 2026-03-04T17:30",
                                 param_hint="--as-of") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)

"""`flask audit verify`, `flask workflows show|check|diff`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.extensions import db
from workflows import audit
from workflows.definition import DefinitionError
from workflows.loader import load_definition
from workflows.registry import all_definitions, get_definition
from workflows.versions import affected_cycles, compare

audit_cli = AppGroup("audit", help="The audit log.")
workflows_cli = AppGroup("workflows", help="Workflow definitions.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every hash chain of the audit log; exit 1 on any problem."""
    problems = audit.verify(db.session)
    if not problems:
        click.echo("audit log OK")
        return
    for problem in problems:
        click.echo(problem)
    click.echo(f"{len(problems)} problem(s) in the audit log", err=True)
    sys.exit(1)


@workflows_cli.command("show")
@click.option("--version", "version", default=None, help="A definition version (default: current)")
@click.option("--full", is_flag=True, help="Draw suspend, resume and abolish too")
def show_command(version: str | None, full: bool) -> None:
    """Print the definition's diagram as Mermaid text."""
    click.echo(get_definition(version).mermaid(full=full), nl=False)


@workflows_cli.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def check_command(files: tuple[str, ...]) -> None:
    """Check definition files (default: the current one and the archive)."""
    try:
        found = [load_definition(f) for f in files] if files else all_definitions()
    except DefinitionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for definition in found:
        click.echo(f"{definition.path}: {definition.name} {definition.version} OK")
    for kind, roles in missing_post_kinds(found).items():
        click.echo(
            f"warning: no post kind {kind!r} in the organisation (roles: {', '.join(roles)}); "
            "add it under 管理 > 役職の種類",
            err=True,
        )


def missing_post_kinds(definitions) -> dict[str, list[str]]:
    """Post kinds the definitions' roles name that the database does not have."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from app.models import PostKind

    try:
        known = set(db.session.scalars(select(PostKind.code)))
    except SQLAlchemyError:
        db.session.rollback()
        return {}  # not migrated yet: nothing to compare with
    missing: dict[str, list[str]] = {}
    for definition in definitions:
        for role in definition.roles.values():
            for kind in role.posts:
                if kind not in known and role.name not in missing.setdefault(kind, []):
                    missing[kind].append(role.name)
    return {k: v for k, v in missing.items() if v}


@workflows_cli.command("diff")
@click.option("--from", "old_version", default=None, help="Version in use (default: current)")
@click.option(
    "--to",
    "new_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The changed definition file",
)
def diff_command(old_version: str | None, new_file: str) -> None:
    """Dry run: what a changed definition changes, and which running cycles it affects."""
    try:
        old = get_definition(old_version)
        new = load_definition(new_file)
    except DefinitionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    diff = compare(old, new)
    for line in diff.lines():
        click.echo(line)
    affected = affected_cycles(db.session, diff)
    click.echo(f"running cycles on {old.version} affected: {len(affected)}")
    for cycle, reason in affected:
        click.echo(
            f"  cycle {cycle.id} item {cycle.item.number} FY{cycle.fiscal_year} "
            f"({cycle.state}): {reason}"
        )
    if new.version == old.version and not diff.empty:
        click.echo(
            f"warning: {new_file} keeps version {old.version}; give the changed "
            "definition a new version so running cycles keep the old one",
            err=True,
        )

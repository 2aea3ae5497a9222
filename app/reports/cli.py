"""`kaikaku report yearly --fy 2025 --out report.pdf`: the published year's report as PDF."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import AppGroup

from app.extensions import db

from .yearly import ReportError, yearly_pdf

report_cli = AppGroup("report", help="Printed reports made from what was published.")


@report_cli.command("yearly")
@click.option("--fy", "fiscal_year", type=int, required=True, help="The fiscal year, e.g. 2025.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="Where to write the PDF.",
)
def yearly_command(fiscal_year: int, out: Path) -> None:
    """Write the yearly progress report (PDF) of a published fiscal year."""
    started = time.monotonic()
    try:
        data, publication = yearly_pdf(db.session, fiscal_year)
    except ReportError:
        raise click.ClickException(
            f"FY{fiscal_year} is not published: publish it at /public/manage first"
        ) from None
    out.write_bytes(data)
    click.echo(
        f"{out}: FY{fiscal_year} revision {publication.revision}, "
        f"{len(publication.entries)} items, {len(data) // 1024} KB "
        f"in {time.monotonic() - started:.1f} s"
    )

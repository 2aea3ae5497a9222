"""The demo played up to 25 November 2026 (FY2025 published), shared by the report tests.

Loading the demo takes seconds, so one app on a SQLite file serves the whole folder. The
tools the tests read the files back with (LibreOffice, poppler's pdffonts) are mandatory in
CI (CI=true), as PostgreSQL and Chromium are; elsewhere their tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.extensions import db as _db
from tests.conftest import IN_CI, make_app
from tests.web.catalogue import ensure_compiled

DEMO_TODAY = "2026-11-25"
PUBLISHED_FY = 2025


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is mandatory in CI and missing (make services installs it)")
        pytest.skip(f"{tool} is missing (make services installs it)")
    return path


@pytest.fixture(scope="session", autouse=True)
def english_catalogue():
    ensure_compiled()


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory):
    """An app whose database holds the demo, loaded through the `kaikaku demo load` command."""
    folder = tmp_path_factory.mktemp("demo")
    app = make_app(folder, f"sqlite:///{folder / 'demo.db'}")
    with app.app_context():
        _db.create_all()
    result = app.test_cli_runner().invoke(args=["demo", "load", "--today", DEMO_TODAY])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        _db.engine.dispose()


def page_texts(data: bytes) -> list[str]:
    from io import BytesIO

    return [page.extract_text() for page in PdfReader(BytesIO(data)).pages]


def office_pdf(xlsx: bytes, folder: Path) -> bytes:
    """The workbook printed to PDF by LibreOffice headless, with a profile of its own.

    Conversions sharing a profile fail silently when they overlap, so each gets its own.
    """
    soffice = need("soffice")
    run = folder / f"office-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    source = run / "export.xlsx"
    source.write_bytes(xlsx)
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{run / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(run),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, "HOME": str(run)},
    )
    return (run / "export.pdf").read_bytes()


def page_count(pdf: bytes) -> int:
    from io import BytesIO

    return len(PdfReader(BytesIO(pdf)).pages)

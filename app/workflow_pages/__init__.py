"""The workflow page (diagram and table) and the workflow CLI commands."""

from flask import Blueprint

bp = Blueprint("workflow_pages", __name__)


@bp.record_once
def _on_register(state) -> None:
    from .cli import audit_cli, workflows_cli

    state.app.cli.add_command(audit_cli)
    state.app.cli.add_command(workflows_cli)


from . import views  # noqa: E402,F401

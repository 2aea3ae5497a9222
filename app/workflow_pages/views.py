from __future__ import annotations

from flask import abort, render_template, request
from flask_login import login_required

from workflows.definition import DefinitionError
from workflows.registry import all_definitions, get_definition

from . import bp


@bp.get("/workflow")
@login_required
def diagram():
    """The workflow drawn from its definition, with the same content as a table."""
    try:
        definition = get_definition(request.args.get("version") or None)
    except DefinitionError:
        abort(404)
    return render_template(
        "workflow/diagram.html",
        definition=definition,
        versions=[d.version for d in all_definitions()],
    )

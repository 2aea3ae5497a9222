"""The API's error handlers: every refusal under /api/ is application/problem+json."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from workflows import errors as workflow_errors

from .common import Refused
from .problems import from_http_exception, in_both, is_api_request, problem


def engine_problem(exc: workflow_errors.WorkflowError):
    """An engine refusal as a problem: 403 no right, 409 conflict or not in this state,
    422 a missing reason or content (with the field)."""
    if isinstance(exc, workflow_errors.PermissionDenied):
        status = 403
    elif isinstance(exc, workflow_errors.ConflictError | workflow_errors.InvalidTransition):
        status = 409
    else:
        status = 422
    errors = None
    field = getattr(exc, "field", None)
    if status == 422 and field:
        texts = in_both(lambda: exc.message)
        errors = [{"field": field, "message": exc.message, "messages": texts}]
    return problem(status, code=exc.code, detail=lambda: exc.message, errors=errors)


def register(app: Flask) -> None:
    @app.errorhandler(Refused)
    def refused(error: Refused):
        return error.response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if is_api_request():
            return from_http_exception(error)
        return error

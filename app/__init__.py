"""Kaikaku's web application.

`create_app` lives in `app/factory.py`; importing the package itself loads nothing else, so
the engine (`workflows`) and the scheduler jobs can use the models without loading Flask.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """Build the Flask app (see app/factory.py)."""
    from .factory import create_app as build

    return build(*args, **kwargs)

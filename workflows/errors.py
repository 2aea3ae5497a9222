"""Errors of the workflow engine: a Japanese message (the catalogue's msgid) and its values.

`.message` is the message in the reader's language: the web app installs a translator
(`set_translator`) that looks the msgid up in the catalogue within a request; anywhere else
the Japanese text is formatted as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(text: str) -> str:
    """Mark a message for the catalogue; it is translated where it is shown."""
    return text


def localized(values: dict[str, Any], locale: str) -> dict[str, Any]:
    """Values with a `label(locale)` (a state, a stage) in the reader's language."""
    return {k: v.label(locale) if hasattr(v, "label") else v for k, v in values.items()}


def _as_is(msgid: str, values: dict[str, Any]) -> str:
    return msgid % localized(values, "ja") if values else msgid


_translate: Callable[[str, dict[str, Any]], str] = _as_is


def set_translator(translate: Callable[[str, dict[str, Any]], str]) -> None:
    """Use `translate(msgid, values)` for every engine message from now on."""
    global _translate
    _translate = translate


class WorkflowError(Exception):
    """A transition that cannot happen; nothing has been changed."""

    code = "workflow_error"
    default_message = N_("この操作は実行できません。")

    def __init__(self, message: str | None = None, *, code: str | None = None, **values: Any):
        self.msgid = message or self.default_message
        self.values = values
        if code:
            self.code = code
        super().__init__(_as_is(self.msgid, values))

    @property
    def message(self) -> str:
        return _translate(self.msgid, self.values)


class PermissionDenied(WorkflowError):
    code = "permission_denied"
    default_message = N_("この操作を行う権限がありません。")


class GuardFailed(WorkflowError):
    code = "guard_failed"
    default_message = N_("入力が不足しているため、この操作は実行できません。")

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        code: str | None = None,
        **values: Any,
    ):
        super().__init__(message, code=code, **values)
        self.field = field


class ConflictError(WorkflowError):
    code = "conflict"
    default_message = N_("他の人が先に判断しました。画面を更新して最新の状態を確認してください。")


class InvalidTransition(WorkflowError):
    code = "invalid_transition"
    default_message = N_("現在の状態ではこの操作は実行できません。")

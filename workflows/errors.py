"""Errors of the workflow engine; `.message` is Japanese and shown to users as is."""

from __future__ import annotations


class WorkflowError(Exception):
    """A transition that cannot happen; nothing has been changed."""

    code = "workflow_error"
    default_message = "この操作は実行できません。"

    def __init__(self, message: str | None = None, *, code: str | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        super().__init__(self.message)


class PermissionDenied(WorkflowError):
    code = "permission_denied"
    default_message = "この操作を行う権限がありません。"


class GuardFailed(WorkflowError):
    code = "guard_failed"
    default_message = "入力が不足しているため、この操作は実行できません。"

    def __init__(
        self, message: str | None = None, *, field: str | None = None, code: str | None = None
    ):
        super().__init__(message, code=code)
        self.field = field


class ConflictError(WorkflowError):
    code = "conflict"
    default_message = "他の人が先に判断しました。画面を更新して最新の状態を確認してください。"


class InvalidTransition(WorkflowError):
    code = "invalid_transition"
    default_message = "現在の状態ではこの操作は実行できません。"

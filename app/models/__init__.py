"""The models; import from here."""

from .api_token import SCOPE_READ, SCOPE_WRITE, ApiToken
from .audit import AuditEntry
from .cycle import (
    PROGRESS_REPORT,
    Cycle,
    DeadlineExtension,
    Direction,
    EffectKind,
    Grade,
    ProgressReport,
    ProgressStatus,
    ProgressValue,
)
from .notify import (
    CalendarFeed,
    DispatchStatus,
    MissedWindow,
    MissedWindowKind,
    NotificationDispatch,
    SchedulerState,
)
from .org import (
    DEFAULT_POST_KINDS,
    Department,
    Post,
    PostAssignment,
    PostKind,
    Role,
    Section,
    Substitution,
    User,
    UserRole,
)
from .outbox import OutboxMessage, OutboxStatus
from .outline import (
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ItemStatus,
    ItemStep,
    Outline,
    PromotionDirection,
    ReformItem,
    Viewpoint,
    item_related_section,
)
from .publication import Publication
from .review import CommitteeOpinion, CommitteeQuestion, OverdueSnapshot
from .schedule import FiscalYearSchedule, StageDeadline
from .security import LoginFailure
from .types import LabeledEnum, UTCDateTime, utcnow
from .ui import SubmissionKey, UsedDecisionLink

__all__ = [
    "SCOPE_READ",
    "SCOPE_WRITE",
    "ApiToken",
    "DEFAULT_POST_KINDS",
    "AuditEntry",
    "CalendarFeed",
    "CommitteeOpinion",
    "CommitteeQuestion",
    "Cycle",
    "DeadlineExtension",
    "Department",
    "Direction",
    "EffectKind",
    "DispatchStatus",
    "ExecutionPlan",
    "FiscalYearSchedule",
    "Grade",
    "Indicator",
    "IndicatorValue",
    "item_related_section",
    "ItemStatus",
    "ItemStep",
    "LabeledEnum",
    "LoginFailure",
    "MissedWindow",
    "MissedWindowKind",
    "NotificationDispatch",
    "OutboxMessage",
    "OutboxStatus",
    "Outline",
    "OverdueSnapshot",
    "Post",
    "PostAssignment",
    "PostKind",
    "ProgressReport",
    "ProgressStatus",
    "ProgressValue",
    "PromotionDirection",
    "Publication",
    "ReformItem",
    "Role",
    "SchedulerState",
    "Section",
    "StageDeadline",
    "PROGRESS_REPORT",
    "SubmissionKey",
    "Substitution",
    "UsedDecisionLink",
    "User",
    "UserRole",
    "UTCDateTime",
    "utcnow",
    "Viewpoint",
]

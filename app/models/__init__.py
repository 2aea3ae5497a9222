"""The models; import from here."""

from .audit import AuditEntry
from .cycle import (
    Cycle,
    DeadlineExtension,
    Direction,
    Grade,
    ProgressReport,
    ProgressStatus,
    ProgressValue,
    ReportKind,
    Stage,
)
from .org import Department, Post, PostAssignment, PostKind, Role, Section, Substitution, User, UserRole
from .outbox import OutboxMessage, OutboxStatus
from .notify import (
    CalendarFeed,
    DispatchStatus,
    MissedWindow,
    MissedWindowKind,
    NotificationDispatch,
    SchedulerState,
)
from .outline import (
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ItemStatus,
    Outline,
    PromotionDirection,
    ReformItem,
    Viewpoint,
    item_related_section,
)
from .publication import Publication
from .review import CommitteeOpinion, CommitteeQuestion, OverdueSnapshot
from .schedule import FiscalYearSchedule
from .types import LabeledEnum, UTCDateTime, utcnow
from .ui import UsedDecisionLink

__all__ = [
    "AuditEntry", "Cycle", "DeadlineExtension", "Department", "Direction", "ExecutionPlan",
    "FiscalYearSchedule", "Grade", "Indicator", "IndicatorValue", "ItemStatus", "LabeledEnum",
    "Outline", "OutboxMessage", "OutboxStatus", "Post", "PostAssignment", "PostKind",
    "ProgressReport", "ProgressStatus", "ProgressValue", "PromotionDirection", "ReformItem",
    "ReportKind", "Role", "Section", "Stage", "Substitution", "UsedDecisionLink", "User", "UserRole",
    "UTCDateTime",
    "Viewpoint", "item_related_section", "utcnow",
]
__all__ += [
    "CalendarFeed", "DispatchStatus", "MissedWindow", "MissedWindowKind",
    "NotificationDispatch", "SchedulerState",
]
__all__ += ["Publication"]
__all__ += ["CommitteeOpinion", "CommitteeQuestion", "OverdueSnapshot"]

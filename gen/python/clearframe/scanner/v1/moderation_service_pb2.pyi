import datetime

from clearframe.scanner.v1 import types_pb2 as _types_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReviewCaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_CASE_STATE_UNSPECIFIED: _ClassVar[ReviewCaseState]
    REVIEW_CASE_STATE_OPEN: _ClassVar[ReviewCaseState]
    REVIEW_CASE_STATE_DECIDED: _ClassVar[ReviewCaseState]
    REVIEW_CASE_STATE_CLOSED: _ClassVar[ReviewCaseState]

class AuditAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_ACTION_UNSPECIFIED: _ClassVar[AuditAction]
    AUDIT_ACTION_AUTOMATED_DECISION: _ClassVar[AuditAction]
    AUDIT_ACTION_MANUAL_DECISION: _ClassVar[AuditAction]
    AUDIT_ACTION_REVIEW_OPENED: _ClassVar[AuditAction]
    AUDIT_ACTION_AUDIT_CLEARED: _ClassVar[AuditAction]

class AuditExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_EXPORT_FORMAT_UNSPECIFIED: _ClassVar[AuditExportFormat]
    AUDIT_EXPORT_FORMAT_JSONL: _ClassVar[AuditExportFormat]
    AUDIT_EXPORT_FORMAT_CSV: _ClassVar[AuditExportFormat]

class WebhookEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEBHOOK_EVENT_TYPE_UNSPECIFIED: _ClassVar[WebhookEventType]
    WEBHOOK_EVENT_TYPE_DECISION_CREATED: _ClassVar[WebhookEventType]
    WEBHOOK_EVENT_TYPE_REVIEW_OPENED: _ClassVar[WebhookEventType]
    WEBHOOK_EVENT_TYPE_SCAN_FAILED: _ClassVar[WebhookEventType]

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATE_UNSPECIFIED: _ClassVar[DeliveryState]
    DELIVERY_STATE_PENDING: _ClassVar[DeliveryState]
    DELIVERY_STATE_SUCCEEDED: _ClassVar[DeliveryState]
    DELIVERY_STATE_FAILED: _ClassVar[DeliveryState]
REVIEW_CASE_STATE_UNSPECIFIED: ReviewCaseState
REVIEW_CASE_STATE_OPEN: ReviewCaseState
REVIEW_CASE_STATE_DECIDED: ReviewCaseState
REVIEW_CASE_STATE_CLOSED: ReviewCaseState
AUDIT_ACTION_UNSPECIFIED: AuditAction
AUDIT_ACTION_AUTOMATED_DECISION: AuditAction
AUDIT_ACTION_MANUAL_DECISION: AuditAction
AUDIT_ACTION_REVIEW_OPENED: AuditAction
AUDIT_ACTION_AUDIT_CLEARED: AuditAction
AUDIT_EXPORT_FORMAT_UNSPECIFIED: AuditExportFormat
AUDIT_EXPORT_FORMAT_JSONL: AuditExportFormat
AUDIT_EXPORT_FORMAT_CSV: AuditExportFormat
WEBHOOK_EVENT_TYPE_UNSPECIFIED: WebhookEventType
WEBHOOK_EVENT_TYPE_DECISION_CREATED: WebhookEventType
WEBHOOK_EVENT_TYPE_REVIEW_OPENED: WebhookEventType
WEBHOOK_EVENT_TYPE_SCAN_FAILED: WebhookEventType
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DELIVERY_STATE_PENDING: DeliveryState
DELIVERY_STATE_SUCCEEDED: DeliveryState
DELIVERY_STATE_FAILED: DeliveryState

class Decision(_message.Message):
    __slots__ = ("decision_id", "scan_id", "asset_id", "verdict", "automated", "reviewer", "notes", "reasons", "supersedes", "current", "create_time")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    AUTOMATED_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    scan_id: str
    asset_id: str
    verdict: _types_pb2.Verdict
    automated: bool
    reviewer: str
    notes: str
    reasons: _types_pb2.StatementOfReasons
    supersedes: str
    current: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, decision_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., automated: _Optional[bool] = ..., reviewer: _Optional[str] = ..., notes: _Optional[str] = ..., reasons: _Optional[_Union[_types_pb2.StatementOfReasons, _Mapping]] = ..., supersedes: _Optional[str] = ..., current: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateDecisionRequest(_message.Message):
    __slots__ = ("decision", "decision_id")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    decision_id: str
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., decision_id: _Optional[str] = ...) -> None: ...

class CreateDecisionResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class GetDecisionResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class ListDecisionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset_id", "scan_id", "verdict", "current_only", "start_time", "end_time")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ONLY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset_id: str
    scan_id: str
    verdict: _types_pb2.Verdict
    current_only: bool
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., current_only: _Optional[bool] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDecisionsResponse(_message.Message):
    __slots__ = ("decisions", "next_page_token")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[Decision]
    next_page_token: str
    def __init__(self, decisions: _Optional[_Iterable[_Union[Decision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchDecisionsRequest(_message.Message):
    __slots__ = ("since_revision", "asset_id")
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    since_revision: int
    asset_id: str
    def __init__(self, since_revision: _Optional[int] = ..., asset_id: _Optional[str] = ...) -> None: ...

class ScanFailure(_message.Message):
    __slots__ = ("scan_id", "asset_id", "error", "failure_time")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_TIME_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    asset_id: str
    error: _status_pb2.Status
    failure_time: _timestamp_pb2.Timestamp
    def __init__(self, scan_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., failure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchHeartbeat(_message.Message):
    __slots__ = ("send_time",)
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    send_time: _timestamp_pb2.Timestamp
    def __init__(self, send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchDecisionsResponse(_message.Message):
    __slots__ = ("revision", "event_time", "decision", "scan_failed", "heartbeat")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SCAN_FAILED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    event_time: _timestamp_pb2.Timestamp
    decision: Decision
    scan_failed: ScanFailure
    heartbeat: WatchHeartbeat
    def __init__(self, revision: _Optional[int] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., scan_failed: _Optional[_Union[ScanFailure, _Mapping]] = ..., heartbeat: _Optional[_Union[WatchHeartbeat, _Mapping]] = ...) -> None: ...

class ReviewCase(_message.Message):
    __slots__ = ("case_id", "scan_id", "asset_id", "state", "priority", "reasons", "result", "create_time", "close_time", "decision_id", "etag")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    scan_id: str
    asset_id: str
    state: ReviewCaseState
    priority: _types_pb2.ReviewPriority
    reasons: _types_pb2.StatementOfReasons
    result: _types_pb2.ScanResult
    create_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    decision_id: str
    etag: str
    def __init__(self, case_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., state: _Optional[_Union[ReviewCaseState, str]] = ..., priority: _Optional[_Union[_types_pb2.ReviewPriority, str]] = ..., reasons: _Optional[_Union[_types_pb2.StatementOfReasons, _Mapping]] = ..., result: _Optional[_Union[_types_pb2.ScanResult, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class ListReviewCasesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state", "priority", "asset_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: ReviewCaseState
    priority: _types_pb2.ReviewPriority
    asset_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[ReviewCaseState, str]] = ..., priority: _Optional[_Union[_types_pb2.ReviewPriority, str]] = ..., asset_id: _Optional[str] = ...) -> None: ...

class ListReviewCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token", "total_size")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[ReviewCase]
    next_page_token: str
    total_size: int
    def __init__(self, cases: _Optional[_Iterable[_Union[ReviewCase, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetReviewCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class GetReviewCaseResponse(_message.Message):
    __slots__ = ("review_case",)
    REVIEW_CASE_FIELD_NUMBER: _ClassVar[int]
    review_case: ReviewCase
    def __init__(self, review_case: _Optional[_Union[ReviewCase, _Mapping]] = ...) -> None: ...

class DecideReviewCaseRequest(_message.Message):
    __slots__ = ("case_id", "verdict", "notes", "etag")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    verdict: _types_pb2.Verdict
    notes: str
    etag: str
    def __init__(self, case_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., notes: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DecideReviewCaseResponse(_message.Message):
    __slots__ = ("review_case", "decision")
    REVIEW_CASE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    review_case: ReviewCase
    decision: Decision
    def __init__(self, review_case: _Optional[_Union[ReviewCase, _Mapping]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("entry_id", "action", "create_time", "asset_id", "scan_id", "decision_id", "verdict", "actor", "automated", "reasons", "notes", "risk_score")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AUTOMATED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    action: AuditAction
    create_time: _timestamp_pb2.Timestamp
    asset_id: str
    scan_id: str
    decision_id: str
    verdict: _types_pb2.Verdict
    actor: str
    automated: bool
    reasons: _types_pb2.StatementOfReasons
    notes: str
    risk_score: float
    def __init__(self, entry_id: _Optional[str] = ..., action: _Optional[_Union[AuditAction, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asset_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., actor: _Optional[str] = ..., automated: _Optional[bool] = ..., reasons: _Optional[_Union[_types_pb2.StatementOfReasons, _Mapping]] = ..., notes: _Optional[str] = ..., risk_score: _Optional[float] = ...) -> None: ...

class ListAuditEntriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset_id", "verdict", "action", "start_time", "end_time", "scan_id", "decision_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset_id: str
    verdict: _types_pb2.Verdict
    action: AuditAction
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    scan_id: str
    decision_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., action: _Optional[_Union[AuditAction, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scan_id: _Optional[str] = ..., decision_id: _Optional[str] = ...) -> None: ...

class ListAuditEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportAuditEntriesRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "asset_id", "format")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    asset_id: str
    format: AuditExportFormat
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asset_id: _Optional[str] = ..., format: _Optional[_Union[AuditExportFormat, str]] = ...) -> None: ...

class AuditExportSummary(_message.Message):
    __slots__ = ("total_entries", "entries_by_verdict", "start_time", "end_time", "export_time")
    class EntriesByVerdictEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_BY_VERDICT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPORT_TIME_FIELD_NUMBER: _ClassVar[int]
    total_entries: int
    entries_by_verdict: _containers.ScalarMap[str, int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    export_time: _timestamp_pb2.Timestamp
    def __init__(self, total_entries: _Optional[int] = ..., entries_by_verdict: _Optional[_Mapping[str, int]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., export_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportAuditEntriesResponse(_message.Message):
    __slots__ = ("entries", "summary", "data")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    summary: AuditExportSummary
    data: str
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., summary: _Optional[_Union[AuditExportSummary, _Mapping]] = ..., data: _Optional[str] = ...) -> None: ...

class ClearAuditEntriesRequest(_message.Message):
    __slots__ = ("asset_id", "before_time", "all")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_TIME_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    before_time: _timestamp_pb2.Timestamp
    all: bool
    def __init__(self, asset_id: _Optional[str] = ..., before_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., all: _Optional[bool] = ...) -> None: ...

class ClearAuditEntriesResponse(_message.Message):
    __slots__ = ("deleted_count", "record")
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    record: AuditEntry
    def __init__(self, deleted_count: _Optional[int] = ..., record: _Optional[_Union[AuditEntry, _Mapping]] = ...) -> None: ...

class GetModerationStatsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "usage_intent")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    usage_intent: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage_intent: _Optional[str] = ...) -> None: ...

class GetModerationStatsResponse(_message.Message):
    __slots__ = ("total_scans", "approved", "rejected", "flagged", "pending", "approval_rate", "rejection_rate", "flag_rate", "manual_decisions", "open_review_cases")
    TOTAL_SCANS_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_RATE_FIELD_NUMBER: _ClassVar[int]
    REJECTION_RATE_FIELD_NUMBER: _ClassVar[int]
    FLAG_RATE_FIELD_NUMBER: _ClassVar[int]
    MANUAL_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_REVIEW_CASES_FIELD_NUMBER: _ClassVar[int]
    total_scans: int
    approved: int
    rejected: int
    flagged: int
    pending: int
    approval_rate: float
    rejection_rate: float
    flag_rate: float
    manual_decisions: int
    open_review_cases: int
    def __init__(self, total_scans: _Optional[int] = ..., approved: _Optional[int] = ..., rejected: _Optional[int] = ..., flagged: _Optional[int] = ..., pending: _Optional[int] = ..., approval_rate: _Optional[float] = ..., rejection_rate: _Optional[float] = ..., flag_rate: _Optional[float] = ..., manual_decisions: _Optional[int] = ..., open_review_cases: _Optional[int] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("webhook_id", "url", "event_types", "usage_intents", "enabled", "secret", "secret_set", "description", "create_time", "update_time")
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENTS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    url: str
    event_types: _containers.RepeatedScalarFieldContainer[WebhookEventType]
    usage_intents: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    secret: str
    secret_set: bool
    description: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, webhook_id: _Optional[str] = ..., url: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[WebhookEventType, str]]] = ..., usage_intents: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., secret: _Optional[str] = ..., secret_set: _Optional[bool] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWebhookRequest(_message.Message):
    __slots__ = ("webhook", "webhook_id")
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    webhook_id: str
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ..., webhook_id: _Optional[str] = ...) -> None: ...

class CreateWebhookResponse(_message.Message):
    __slots__ = ("webhook", "secret")
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    secret: str
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class GetWebhookRequest(_message.Message):
    __slots__ = ("webhook_id",)
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    def __init__(self, webhook_id: _Optional[str] = ...) -> None: ...

class GetWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class ListWebhooksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWebhooksResponse(_message.Message):
    __slots__ = ("webhooks", "next_page_token")
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    next_page_token: str
    def __init__(self, webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateWebhookRequest(_message.Message):
    __slots__ = ("webhook", "update_mask")
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class DeleteWebhookRequest(_message.Message):
    __slots__ = ("webhook_id",)
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    def __init__(self, webhook_id: _Optional[str] = ...) -> None: ...

class DeleteWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FaceAnalysis(_message.Message):
    __slots__ = ("faces_detected", "min_estimated_age", "underage_detected")
    FACES_DETECTED_FIELD_NUMBER: _ClassVar[int]
    MIN_ESTIMATED_AGE_FIELD_NUMBER: _ClassVar[int]
    UNDERAGE_DETECTED_FIELD_NUMBER: _ClassVar[int]
    faces_detected: int
    min_estimated_age: float
    underage_detected: bool
    def __init__(self, faces_detected: _Optional[int] = ..., min_estimated_age: _Optional[float] = ..., underage_detected: _Optional[bool] = ...) -> None: ...

class DecisionWebhookPayload(_message.Message):
    __slots__ = ("batch_id", "moderation_status", "nudity_score", "final_risk_score", "risk_level", "detected_parts", "face_analysis", "human_review_required", "flagged", "auto_rejected", "rejection_reason", "analysis_version", "scan_id", "asset_id", "decision_id", "usage_intent", "model_id", "event_time")
    class DetectedPartsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MODERATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    NUDITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    FINAL_RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    DETECTED_PARTS_FIELD_NUMBER: _ClassVar[int]
    FACE_ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    HUMAN_REVIEW_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    AUTO_REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    moderation_status: str
    nudity_score: float
    final_risk_score: float
    risk_level: str
    detected_parts: _containers.ScalarMap[str, float]
    face_analysis: FaceAnalysis
    human_review_required: bool
    flagged: bool
    auto_rejected: bool
    rejection_reason: str
    analysis_version: str
    scan_id: str
    asset_id: str
    decision_id: str
    usage_intent: str
    model_id: str
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, batch_id: _Optional[str] = ..., moderation_status: _Optional[str] = ..., nudity_score: _Optional[float] = ..., final_risk_score: _Optional[float] = ..., risk_level: _Optional[str] = ..., detected_parts: _Optional[_Mapping[str, float]] = ..., face_analysis: _Optional[_Union[FaceAnalysis, _Mapping]] = ..., human_review_required: _Optional[bool] = ..., flagged: _Optional[bool] = ..., auto_rejected: _Optional[bool] = ..., rejection_reason: _Optional[str] = ..., analysis_version: _Optional[str] = ..., scan_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("delivery_id", "webhook_id", "event_type", "state", "attempt_count", "last_http_status", "last_error", "create_time", "last_attempt_time", "next_attempt_time", "replay_of", "payload")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    REPLAY_OF_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    webhook_id: str
    event_type: WebhookEventType
    state: DeliveryState
    attempt_count: int
    last_http_status: int
    last_error: str
    create_time: _timestamp_pb2.Timestamp
    last_attempt_time: _timestamp_pb2.Timestamp
    next_attempt_time: _timestamp_pb2.Timestamp
    replay_of: str
    payload: DecisionWebhookPayload
    def __init__(self, delivery_id: _Optional[str] = ..., webhook_id: _Optional[str] = ..., event_type: _Optional[_Union[WebhookEventType, str]] = ..., state: _Optional[_Union[DeliveryState, str]] = ..., attempt_count: _Optional[int] = ..., last_http_status: _Optional[int] = ..., last_error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replay_of: _Optional[str] = ..., payload: _Optional[_Union[DecisionWebhookPayload, _Mapping]] = ...) -> None: ...

class ListWebhookDeliveriesRequest(_message.Message):
    __slots__ = ("webhook_id", "page_size", "page_token", "state")
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    page_size: int
    page_token: str
    state: DeliveryState
    def __init__(self, webhook_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[DeliveryState, str]] = ...) -> None: ...

class ListWebhookDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDelivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[WebhookDelivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReplayWebhookDeliveryRequest(_message.Message):
    __slots__ = ("webhook_id", "delivery_id")
    WEBHOOK_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    webhook_id: str
    delivery_id: str
    def __init__(self, webhook_id: _Optional[str] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class ReplayWebhookDeliveryResponse(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: WebhookDelivery
    def __init__(self, delivery: _Optional[_Union[WebhookDelivery, _Mapping]] = ...) -> None: ...

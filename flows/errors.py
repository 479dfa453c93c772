"""Typed errors of the flow layer.

Like `peripherals.errors`, every error has a stable `code` that screens translate (i18n
key `error.<code>`) and telemetry counts; messages never carry personal data.
"""

from __future__ import annotations


class FlowError(Exception):
    """Base of every flow-layer failure."""

    code = "flow_error"


class FlowDefinitionError(FlowError):
    """A flow class is malformed (missing step method, unknown first step ...); raised at class creation."""

    code = "flow_definition"


class UnknownStep(FlowError):
    """A step returned `Next` to a step the flow does not have."""

    code = "unknown_step"


class OperationTimeout(FlowError):
    """A device or service call awaited through `ctx.call` took longer than its timeout."""

    code = "operation_timeout"


class ServiceError(FlowError):
    """Base a back-office client may raise so the engine can name the failure.

    `retryable` tells a step whether asking again (with the same idempotency key) can help.
    """

    code = "service_error"
    retryable = False


class ServiceUnavailable(ServiceError):
    code = "service_unavailable"
    retryable = True


class JournalError(FlowError):
    code = "journal_error"


class JournalFull(JournalError):
    """The disk under the journal is full (ENOSPC / SQLITE_FULL): nothing more can be kept safely."""

    code = "disk_full"


class JournalCorrupt(JournalError):
    """A journal row could not be decrypted or parsed (wrong key, tampered blob, old schema)."""

    code = "journal_corrupt"


class KeystoreError(FlowError):
    """The journal key file is missing, malformed or readable by others."""

    code = "keystore_error"


class FlowFinished(FlowError):
    """`FlowRunner.next_view()` was called after the final view was delivered."""

    code = "flow_finished"


class AnswerInvalid(FlowError):
    """An answer does not fit the view it answers; `errors` maps field (or "") to an i18n key."""

    code = "answer_invalid"

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(", ".join(f"{k or 'answer'}: {v}" for k, v in errors.items()))

"""Typed back-office failures.

A flow needs to know only three things when a service call fails: was it refused for a
reason the citizen can act on (ServiceRejected, with a stable `code` screens translate),
is the back office unreachable or broken (ServiceUnavailable — try later, call staff),
or did it not answer in time (ServiceTimeout, a kind of unavailability). Messages are
safe to show and to log: they never contain the request's personal data.
"""

from __future__ import annotations

from flows import errors as flow_errors


class ServiceError(flow_errors.ServiceError):
    """Base of every back-office failure. `code` is stable (i18n, telemetry).

    A subclass of the engine's `ServiceError`, so a step that lets one escape ends as
    `service_failed` with this code, not as an internal error.
    """

    code = "service_error"
    plain = "the back office could not complete the request"

    def __init__(self, message: str | None = None, *, service: str | None = None, status_code: int | None = None):
        self.service = service
        self.status_code = status_code
        super().__init__(message or self.plain)

    @property
    def message(self) -> str:
        return str(self)


class ServiceUnavailable(ServiceError, flow_errors.ServiceUnavailable):
    """Network down, connection refused or dropped, or 5xx answers after every retry."""

    code = "service_unavailable"
    retryable = True
    plain = "the back office cannot be reached at the moment"


class ServiceTimeout(ServiceUnavailable):
    """No answer within the client's timeout, after every retry."""

    code = "service_timeout"
    plain = "the back office did not answer in time"


class ServiceRejected(ServiceError):
    """The back office refused the request (4xx). Never retried: the same request would
    be refused again. `code` is the back office's reason (e.g. 'invalid_id_number',
    'medical_requirements_not_met'); `field` names the offending request field if any."""

    plain = "the back office refused the request"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str = "rejected",
        field: str | None = None,
        service: str | None = None,
        status_code: int | None = None,
    ):
        self.code = code  # instance attribute: the server's reason code
        self.field = field
        super().__init__(message, service=service, status_code=status_code)


class ServiceProtocolError(ServiceError):
    """The back office answered something this client cannot read (not JSON, wrong shape)."""

    code = "service_protocol_error"
    plain = "the back office sent an answer that could not be read"

"""The exceptions speechrest raises.

All of them derive from :class:`SpeechRestError`::

    SpeechRestError
    ├── ClientStateError            the client is not open, or already closed
    ├── InvalidInputError           bad arguments, caught before any request (also a ValueError)
    │   └── AudioSourceError        a path that is missing, a directory or empty; an unusable stream
    ├── ResponseValidationError     the service answered with a body we cannot read
    │   └── ResponseTooLargeError   a body over the client's cap (max_response_bytes, ...)
    ├── RedirectError               a redirect that is not followed (to http, a body elsewhere)
    ├── APIConnectionError          the service could not be reached / the connection broke
    │   ├── APITimeoutError         connect or read timed out, or the server stalled
    │   └── NotReplayableError      a retry was needed but the request body cannot be sent again
    ├── APIStatusError              the service answered with an error status (4xx/5xx)
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   ├── PayloadTooLargeError    413
    │   ├── UnsupportedMediaTypeError 415
    │   ├── UnprocessableEntityError  422
    │   ├── RateLimitError          429
    │   └── InternalServerError     5xx
    ├── OperationFailedError        a long-running entity ended in ``Failed``
    │   └── TranscriptionFailedError
    └── StorageError                Blob Storage refused or failed a request (speechrest.storage)

No exception text, ``repr()`` or ``args`` ever contains the subscription key or a bearer
token; URLs are shown with SAS signatures redacted.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AudioSourceError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStateError",
    "ConflictError",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "NotReplayableError",
    "OperationFailedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "SpeechRestError",
    "StorageError",
    "TranscriptionFailedError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
]


class SpeechRestError(Exception):
    """Base class of every speechrest exception."""


class ClientStateError(SpeechRestError, RuntimeError):
    """The client was used before ``async with`` opened it, or after it was closed."""


class InvalidInputError(SpeechRestError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class AudioSourceError(InvalidInputError):
    """An audio source cannot be used (missing, a directory, empty, not binary, ...)."""


class ResponseValidationError(SpeechRestError):
    """The service's response could not be read into the expected model."""

    def __init__(self, operation: str, problems: list[str], *, request_id: str | None = None):
        self.operation = operation
        self.problems = problems
        self.request_id = request_id
        detail = "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        super().__init__(f"{operation}: unexpected response: {detail}")


class ResponseTooLargeError(ResponseValidationError):
    """A response body is larger than the client accepts for its kind: ``max_response_bytes``
    for the service's API responses, ``max_download_bytes`` for result files read from a
    ``contentUrl``. Sizes count after decompression; nothing beyond the cap is read or kept.

    ``limit`` is the cap in bytes and ``option`` the ``SpeechClient`` argument that sets it.
    Never retried: the same request would get the same body.
    """

    def __init__(
        self, operation: str, *, limit: int, option: str, request_id: str | None = None
    ) -> None:
        self.limit = limit
        self.option = option
        problem = (
            f"the body is larger than {limit} bytes (after decompression), the most this "
            f"client reads; pass SpeechClient({option}=...) to accept more"
        )
        super().__init__(operation, [problem], request_id=request_id)


class RedirectError(SpeechRestError):
    """The service answered with a redirect that is not followed: from https to plain
    http, a request body to another origin (only a 303 may turn it into a body-less GET),
    a ``Location`` that is not an http(s) URL, or too many redirects in a row.

    ``location`` is the redirect's target (SAS signatures redacted). Never retried.
    """

    def __init__(self, message: str, *, operation: str | None = None, location: str | None = None):
        self.operation = operation
        self.location = location
        super().__init__(f"{operation}: {message}" if operation else message)


class APIConnectionError(SpeechRestError):
    """The request did not complete: the connection failed or broke."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.operation = operation
        super().__init__(f"{operation}: {message}" if operation else message)


class APITimeoutError(APIConnectionError):
    """A connect or read timeout expired, or the server stalled."""


class NotReplayableError(APIConnectionError):
    """A retry was needed, but the request body (an async iterable or a non-seekable stream)
    cannot be sent a second time. Pass a path, bytes or a seekable file to get retries."""


class APIStatusError(SpeechRestError):
    """The service answered with an error status.

    Attributes: ``status`` (HTTP status), ``code`` (the service's error code, e.g.
    ``InvalidArgument``), ``inner_code`` (the detailed code, e.g. ``InvalidAudioFormat``),
    ``message``, ``request_id`` (the service's request id, for support), ``body`` (the parsed
    error body) and ``operation`` (the operationId that failed).
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        inner_code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.inner_code = inner_code
        self.message = message
        self.request_id = request_id
        self.operation = operation
        self.body = body
        self.retry_after = retry_after
        parts = [f"{operation or 'request'} failed with HTTP {status}"]
        codes = "/".join(c for c in (code, inner_code) if c)
        if codes:
            parts.append(f"[{codes}]")
        if message:
            parts.append(f": {message}")
        if request_id:
            parts.append(f" (request id {request_id})")
        super().__init__(" ".join(parts[:2]) + "".join(parts[2:]))

    @property
    def status_code(self) -> int:
        """Alias of ``status``."""
        return self.status


class BadRequestError(APIStatusError):
    """400: the request was rejected as invalid."""


class AuthenticationError(APIStatusError):
    """401: the key or token is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the credentials are valid but not allowed (or the quota is exhausted)."""


class NotFoundError(APIStatusError):
    """404: no such entity."""


class ConflictError(APIStatusError):
    """409: the entity is in a state that does not allow the operation."""


class PayloadTooLargeError(APIStatusError):
    """413: the upload is larger than the service accepts."""


class UnsupportedMediaTypeError(APIStatusError):
    """415: the content type is not accepted."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well formed but cannot be processed (e.g. bad audio)."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the service asked to wait."""


class InternalServerError(APIStatusError):
    """5xx: the service failed."""


class OperationFailedError(SpeechRestError):
    """A long-running entity (transcription, dataset, model, ...) ended in ``Failed``.

    ``entity`` is the entity as last fetched; ``code`` and ``message`` come from its
    ``properties.error``.
    """

    def __init__(self, entity: Any, *, code: str | None, message: str | None, what: str) -> None:
        self.entity = entity
        self.code = code
        self.message = message
        super().__init__(f"{what} failed: [{code or 'unknown'}] {message or 'no message'}")


class TranscriptionFailedError(OperationFailedError):
    """A batch transcription ended in ``Failed``."""


class StorageError(SpeechRestError):
    """Azure Blob Storage refused or failed a request made by :mod:`speechrest.storage`
    (a missing container, a SAS that does not allow the operation, a broken connection).

    ``status`` is the HTTP status (None when no answer came) and ``code`` the storage error
    code, e.g. ``ContainerNotFound`` or ``AuthorizationPermissionMismatch``.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        self.status = status
        self.code = code
        super().__init__(message)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)

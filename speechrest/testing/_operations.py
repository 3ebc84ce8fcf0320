"""Every operation of the Speech to text API 2025-10-15 by operationId, method and path.

The emulator uses this table to name the operation a request is for, so that tests can
script faults per operation (``Transcriptions_Submit``) rather than per URL.
"""

from __future__ import annotations

import functools
import re

__all__ = ["OPERATIONS", "operation_of"]

_TABLE = """
Datasets_CommitBlocks                    POST   /datasets/{id}/blocks:commit
Datasets_Create                          POST   /datasets
Datasets_Delete                          DELETE /datasets/{id}
Datasets_Get                             GET    /datasets/{id}
Datasets_GetBlocks                       GET    /datasets/{id}/blocks
Datasets_GetFile                         GET    /datasets/{id}/files/{fileId}
Datasets_List                            GET    /datasets
Datasets_ListFiles                       GET    /datasets/{id}/files
Datasets_ListSupportedLocales            GET    /datasets/locales
Datasets_Update                          PATCH  /datasets/{id}
Datasets_UploadBlock                     PUT    /datasets/{id}/blocks
Endpoints_Create                         POST   /endpoints
Endpoints_Delete                         DELETE /endpoints/{id}
Endpoints_Get                            GET    /endpoints/{id}
Endpoints_List                           GET    /endpoints
Endpoints_ListSupportedLocales           GET    /endpoints/locales
Endpoints_Update                         PATCH  /endpoints/{id}
Evaluations_Create                       POST   /evaluations
Evaluations_Delete                       DELETE /evaluations/{id}
Evaluations_Get                          GET    /evaluations/{id}
Evaluations_GetFile                      GET    /evaluations/{id}/files/{fileId}
Evaluations_List                         GET    /evaluations
Evaluations_ListFiles                    GET    /evaluations/{id}/files
Evaluations_ListSupportedLocales         GET    /evaluations/locales
Evaluations_Update                       PATCH  /evaluations/{id}
Models_AuthorizeCopy                     POST   /models:authorizecopy
Models_Copy                              POST   /models/{id}:copy
Models_Create                            POST   /models
Models_Delete                            DELETE /models/{id}
Models_GetBaseModel                      GET    /models/base/{id}
Models_GetBaseModelManifest              GET    /models/base/{id}/manifest
Models_GetCustomModel                    GET    /models/{id}
Models_GetCustomModelManifest            GET    /models/{id}/manifest
Models_GetFile                           GET    /models/{id}/files/{fileId}
Models_ListBaseModels                    GET    /models/base
Models_ListCustomModels                  GET    /models
Models_ListFiles                         GET    /models/{id}/files
Models_ListSupportedLocales              GET    /models/locales
Models_Update                            PATCH  /models/{id}
Operations_GetModelCopy                  GET    /operations/models/copy/{id}
Projects_Create                          POST   /projects
Projects_Delete                          DELETE /projects/{id}
Projects_Get                             GET    /projects/{id}
Projects_List                            GET    /projects
Projects_ListDatasets                    GET    /projects/{id}/datasets
Projects_ListEndpoints                   GET    /projects/{id}/endpoints
Projects_ListEvaluations                 GET    /projects/{id}/evaluations
Projects_ListModels                      GET    /projects/{id}/models
Projects_ListSupportedLocales            GET    /projects/locales
Projects_ListTranscriptions              GET    /projects/{id}/transcriptions
Projects_Update                          PATCH  /projects/{id}
Transcriptions_Delete                    DELETE /transcriptions/{id}
Transcriptions_Get                       GET    /transcriptions/{id}
Transcriptions_GetFile                   GET    /transcriptions/{id}/files/{fileId}
Transcriptions_List                      GET    /transcriptions
Transcriptions_ListFiles                 GET    /transcriptions/{id}/files
Transcriptions_ListSupportedLocales      GET    /transcriptions/locales
Transcriptions_Submit                    POST   /transcriptions:submit
Transcriptions_Transcribe                POST   /transcriptions:transcribe
Transcriptions_Update                    PATCH  /transcriptions/{id}
WebHooks_Create                          POST   /webhooks
WebHooks_Delete                          DELETE /webhooks/{id}
WebHooks_Get                             GET    /webhooks/{id}
WebHooks_List                            GET    /webhooks
WebHooks_Ping                            POST   /webhooks/{id}:ping
WebHooks_Test                            POST   /webhooks/{id}:test
WebHooks_Update                          PATCH  /webhooks/{id}
"""

OPERATIONS: dict[str, tuple[str, str]] = {
    op: (method, path) for op, method, path in (line.split() for line in _TABLE.split("\n") if line)
}
"""operationId -> (HTTP method, path template below ``/speechtotext``)."""


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"/speechtotext{body}")


@functools.cache
def _routes() -> list[tuple[str, str, re.Pattern[str]]]:
    # Literal segments win over parameters (``/models/base`` before ``/models/{id}``).
    ordered = sorted(OPERATIONS.items(), key=lambda kv: (kv[1][1].count("{"), kv[0]))
    return [(op, method, _pattern(path)) for op, (method, path) in ordered]


def operation_of(method: str, path: str) -> str | None:
    """The operationId of a request, or None for paths outside the API (e.g. blobs)."""
    for op, op_method, pattern in _routes():
        if op_method == method and pattern.fullmatch(path):
            return op
    return None

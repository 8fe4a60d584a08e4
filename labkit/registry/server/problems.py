"""Error answers of the lab registry, in the distribution spec's shape (`{"errors": [...]}`)."""

from __future__ import annotations

import json
from typing import Mapping

from ...errors import LabkitError

ERROR_MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "NOT_FOUND": "page not found",
    "UNKNOWN": "unknown error",
}


class RegistryProblem(LabkitError):
    """An HTTP error answer in the spec's shape: status, codes, and headers to add."""

    def __init__(self, status: int, code: str, message: str | None = None, detail=None,
                 headers: Mapping[str, str] | None = None, errors: list[dict] | None = None):
        super().__init__(message or ERROR_MESSAGES.get(code, code))
        self.status = status
        self.headers = dict(headers or {})
        self.errors = errors or [{"code": code, "message": message or ERROR_MESSAGES.get(code, code),
                                  "detail": detail if detail is not None else {}}]

    def body(self) -> bytes:
        """Return the JSON body `{"errors": [...]}`."""
        return json.dumps({"errors": self.errors}).encode()

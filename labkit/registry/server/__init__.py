"""The lab registry: a small OCI distribution server (stdlib http.server) over an OCI image layout.

Speaks the OCI distribution spec (`spec.md`: pull, push, content discovery, content management) plus
the Docker Registry v2 extras clients rely on (`_catalog`, Docker-Content-Digest, Docker-Upload-UUID)
and Docker Hub's `/v1/search`. Its root is one OCI image layout holding every repository:

- manifests and blobs are blobs of the layout (content is shared across repositories);
- each tag is an `index.json` descriptor annotated `org.opencontainers.image.ref.name` = `<repo>:<tag>`
  and `io.labkit.repository` = `<repo>`, so skopeo and umoci can read the root by that name
  (`oci:ROOT:<repo>:<tag>`); a manifest pushed by digest only is kept by a descriptor with the
  repository annotation and no ref name;
- uploads in progress live beside the layout, in its temp area (`OciLayout.tmp_dir`/uploads), and are
  dropped when abandoned (idle for `upload_ttl`) or when the server restarts;
- the token signing key lives in `ROOT/.labkit-registry/token-key.pem` (mode 0600).

Search (`/v1/search?q=&n=`) reads each repository's image config labels (see LABEL_*). The referrers API
(`/v2/<name>/referrers/<digest>`, OCI distribution 1.1) lists manifests whose `subject` is a digest.

Decisions (a lab, not a multi-tenant service):
- blobs are shared: any repository serves any stored blob, a mount succeeds whenever the blob exists, and
  DELETE of a blob removes it for every repository; manifests and tags do belong to one repository;
- auth "token": anonymous tokens get pull on every repository and `registry:catalog:*`; users get pull,
  push and delete; `/v1/search` is open (it shows what anonymous pulls may read anyway); a push needs
  pull+push, a DELETE needs delete, a mount also needs pull on `from` (as distribution's token auth);
- auth "basic": every valid user may do everything, search included (as distribution's htpasswd);
- tokens live 300 s; exp/nbf are checked with distribution's 60 s leeway.

Modules: app (LabRegistry, serve_forever, parse_addr), listener (the socket), handler (HTTP requests),
routes, access (auth), repositories (index.json), uploads, manifests (checks, referrers), search,
ranges, names, problems (error answers).
"""

from __future__ import annotations

from .access import REALM_PATH, required_access
from .app import AUTH_MODES, STATE_DIR, LabRegistry, parse_addr, serve_forever
from .handler import API_VERSION
from .manifests import manifest_references, parse_manifest_reference, referrers
from .names import NAME_RE, TAG_RE, valid_name, valid_tag
from .problems import ERROR_MESSAGES, RegistryProblem
from .ranges import parse_content_range, parse_range
from .repositories import Repositories, record_repository, record_tag
from .search import search_entry
from .uploads import UPLOAD_TTL, UploadSession, Uploads

__all__ = [
    "API_VERSION", "AUTH_MODES", "ERROR_MESSAGES", "LabRegistry", "NAME_RE", "REALM_PATH", "RegistryProblem",
    "Repositories", "STATE_DIR", "TAG_RE",
    "UPLOAD_TTL", "UploadSession", "Uploads", "manifest_references", "parse_addr", "parse_content_range",
    "parse_manifest_reference", "parse_range", "record_repository", "record_tag", "referrers",
    "required_access", "search_entry", "serve_forever", "valid_name", "valid_tag",
]

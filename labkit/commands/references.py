"""Docker's client checks an image reference before it asks the daemon anything, and each command words a bad
one its own way (docker/cli v29.7.2 with moby/moby/client v0.5.1 and distribution/reference v0.6.0):

- pull, push, commit: ParseNormalizedNamed's error as it is, no "Error: " before it, exit 1:
  `invalid reference format: repository name (library/Bad) must be lowercase`
- create: ParseAnyReference's (an image ID or digest also passes), the same text, exit 1
- run: the same error through toStatusError: `docker: invalid reference format: ...`, exit 125 (Docker adds
  a blank line and "Run 'docker run --help' for more information"; labkit keeps its errors to one line)
- tag (client/image_tag.go): `error parsing reference: "Bad:Tag" is not a valid repository/tag: invalid
  reference format: repository name (library/Bad) must be lowercase`, for the source (ParseAnyReference) or
  the target (ParseNormalizedNamed); Docker 28's client wrote "Error parsing reference" with a capital E.
"""

from __future__ import annotations

import json

from ..errors import CliError
from ..reference import docker_parse_error


def check_reference(text: str, any_reference: bool = False, prefix: str = "", status: int = 1) -> None:
    """Raise the CliError Docker's client prints for a reference it cannot parse (`prefix` before it)."""
    error = docker_parse_error(text, any_reference=any_reference)
    if error is not None:
        raise CliError(prefix + error, status)


def check_tag_reference(text: str, any_reference: bool = False) -> None:
    """Raise the CliError of `docker tag` (moby client ImageTag) for a SOURCE or TARGET it cannot parse."""
    error = docker_parse_error(text, any_reference=any_reference)
    if error is not None:
        quoted = json.dumps(text, ensure_ascii=False)     # Go's %q, for the printable names a shell passes
        raise CliError(f"error parsing reference: {quoted} is not a valid repository/tag: {error}")

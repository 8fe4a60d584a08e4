"""Docker's credential helpers: programs named `docker-credential-NAME` that keep registry secrets in the OS
keychain (docker-credential-desktop, -osxkeychain, -secretservice, -pass, -wincred, ecr-login, gcloud, ...).

The protocol (docker/docker-credential-helpers, client/client.go and credentials/error.go): the program is
run with one action as its argument, and talks over stdin/stdout:

    get    stdin: the server URL             stdout: {"ServerURL": ..., "Username": ..., "Secret": ...}
    store  stdin: {"ServerURL", "Username", "Secret"} as JSON
    erase  stdin: the server URL
    list   stdin: (unused)                    stdout: {"<server URL>": "<username>", ...}

A failing program exits non-zero with its message on stdout; "credentials not found in native keychain"
means "no credentials" (anonymous), not an error. A helper keeps an identity token (an OAuth2 refresh token)
under the username "<token>" (docker/cli, cli/config/credentials/native_store.go).
"""

from __future__ import annotations

import json
import shutil

from ..errors import LabkitError
from .auth import Credentials

PROGRAM_PREFIX = "docker-credential-"
NOT_FOUND = "credentials not found in native keychain"
MISSING_SERVER_URL = "no credentials server URL"
MISSING_USERNAME = "no credentials username"
TOKEN_USERNAME = "<token>"
TIMEOUT = 60  # seconds; a keychain may ask the user to unlock it


class CredentialHelperError(LabkitError):
    """A credential helper could not be run, or refused the action."""


class CredentialHelper:
    """One `docker-credential-NAME` program (found on PATH when it is first run)."""

    def __init__(self, name: str):
        if not name or "/" in name or name.startswith("-"):
            raise CredentialHelperError(f"docker config names the credential helper {name!r}: not a helper name")
        self.name = name
        self.program = PROGRAM_PREFIX + name

    def __repr__(self) -> str:
        return f"CredentialHelper({self.name!r})"

    def _run(self, action: str, stdin: bytes, server: str = "") -> bytes:
        import subprocess        # here: only a home whose docker config names a helper starts one

        from .. import platform

        what = f"{self.program} {action}{' ' + server if server else ''}"
        if not platform.can_use_processes():
            raise CredentialHelperError(f"{what}: credential helpers are programs, and this Python cannot start "
                                        f"programs ({platform.describe()})")
        exe = shutil.which(self.program)
        if exe is None:
            raise CredentialHelperError(f"{what}: the credential helper is not installed (docker config's "
                                        f"credsStore/credHelpers name it, and it is not on PATH)")
        try:
            done = subprocess.run([exe, action], input=stdin, capture_output=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CredentialHelperError(f"{what}: {type(e).__name__}") from None
        if done.returncode != 0:
            message = done.stdout.decode("utf-8", "replace").strip()
            raise _Refused(message or done.stderr.decode("utf-8", "replace").strip()[-300:] or
                           f"exit status {done.returncode}")
        return done.stdout

    def _call(self, action: str, stdin: bytes, server: str = "") -> bytes:
        try:
            return self._run(action, stdin, server)
        except _Refused as e:
            what = {MISSING_SERVER_URL: "no server URL given", MISSING_USERNAME: "no username given"}.get(e.message,
                                                                                                         e.message)
            raise CredentialHelperError(f"{self.program} {action}{' ' + server if server else ''}: {what}") from None

    def get(self, server: str) -> "Credentials | None":
        """Return the credentials the helper keeps for `server`, or None when it has none."""
        try:
            out = self._run("get", server.encode(), server)
        except _Refused as e:
            if e.message == NOT_FOUND:
                return None
            raise CredentialHelperError(f"{self.program} get {server}: {e.message}") from None
        try:
            doc = json.loads(out)
        except ValueError:
            raise CredentialHelperError(f"{self.program} get {server}: answered something that is not JSON") from None
        if not isinstance(doc, dict):
            raise CredentialHelperError(f"{self.program} get {server}: answered {type(doc).__name__}, not an object")
        username, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
        if not secret:
            return None
        if username == TOKEN_USERNAME:
            return Credentials("", identity_token=secret)
        return Credentials(username, secret)

    def store(self, server: str, credentials: Credentials) -> None:
        """Keep `credentials` for `server` (an identity token under the username "<token>")."""
        if credentials.identity_token:
            username, secret = TOKEN_USERNAME, credentials.identity_token
        else:
            username, secret = credentials.username, credentials.password
        body = json.dumps({"ServerURL": server, "Username": username, "Secret": secret}).encode()
        self._call("store", body, server)

    def erase(self, server: str) -> None:
        """Forget what the helper keeps for `server`."""
        self._call("erase", server.encode(), server)

    def list(self) -> "dict[str, str]":
        """Return {server URL: username} of everything the helper keeps."""
        out = self._call("list", b"unused")
        try:
            doc = json.loads(out or b"{}")
        except ValueError:
            raise CredentialHelperError(f"{self.program} list: answered something that is not JSON") from None
        if not isinstance(doc, dict):
            raise CredentialHelperError(f"{self.program} list: answered {type(doc).__name__}, not an object")
        return {str(k): str(v) for k, v in doc.items()}


class _Refused(Exception):
    """The helper exited non-zero; `message` is what it printed on stdout (docker's error channel)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


__all__ = ["CredentialHelper", "CredentialHelperError", "NOT_FOUND", "TOKEN_USERNAME", "PROGRAM_PREFIX"]

"""A scripted credential helper: a real `docker-credential-NAME` program speaking docker's helper protocol.

`install(bin_dir, name)` writes the program into `bin_dir` (put it on PATH) and returns a ScriptedHelper that
reads back what the program holds (its JSON store) and what it was asked (its log: action and server URL,
never a secret). It answers as docker-credential-helpers' programs do: `get` prints
{"ServerURL","Username","Secret"} or exits 1 with "credentials not found in native keychain" on stdout;
`store` reads the JSON credentials; `erase` the server URL; `list` prints {server: username}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

_PROGRAM = r'''#!{python}
import json, pathlib, sys

STORE = pathlib.Path({store!r})
LOG = pathlib.Path({log!r})
FAIL = pathlib.Path({fail!r})
action = sys.argv[1] if len(sys.argv) > 1 else ""
data = sys.stdin.read()
creds = json.loads(STORE.read_text()) if STORE.exists() else {{}}


def log(server):
    with LOG.open("a") as f:
        f.write(json.dumps([action, server]) + "\n")


def fail(message):
    print(message)
    sys.exit(1)


if FAIL.exists():
    log("")
    fail(FAIL.read_text())
if action == "get":
    log(data)
    if data not in creds:
        fail("credentials not found in native keychain")
    print(json.dumps({{"ServerURL": data, "Username": creds[data][0], "Secret": creds[data][1]}}))
elif action == "store":
    doc = json.loads(data)
    log(doc.get("ServerURL", ""))
    if not doc.get("ServerURL"):
        fail("no credentials server URL")
    if not doc.get("Username"):
        fail("no credentials username")
    creds[doc["ServerURL"]] = [doc["Username"], doc["Secret"]]
    STORE.write_text(json.dumps(creds))
elif action == "erase":
    log(data)
    if data not in creds:
        fail("credentials not found in native keychain")
    del creds[data]
    STORE.write_text(json.dumps(creds))
elif action == "list":
    log("")
    print(json.dumps({{k: v[0] for k, v in creds.items()}}))
else:
    fail("unknown credential action `" + action + "`")
'''


class ScriptedHelper:
    """What the installed helper program holds and was asked."""

    def __init__(self, name: str, program: Path, store: Path, log: Path, fail: Path):
        self.name = name
        self.program = program
        self.store_path = store
        self.log_path = log
        self.fail_path = fail

    def held(self) -> "dict[str, list[str]]":
        """Return {server URL: [username, secret]} as the program keeps them."""
        return json.loads(self.store_path.read_text()) if self.store_path.exists() else {}

    def put(self, server: str, username: str, secret: str) -> None:
        """Keep credentials in the program's store directly (as if an earlier login had)."""
        held = self.held()
        held[server] = [username, secret]
        self.store_path.write_text(json.dumps(held))

    def calls(self) -> "list[tuple[str, str]]":
        """Return (action, server URL) of every run, in order."""
        if not self.log_path.exists():
            return []
        return [tuple(json.loads(line)) for line in self.log_path.read_text().splitlines()]

    def fail_with(self, message: "str | None") -> None:
        """Make every run fail with `message` on stdout (None: work again)."""
        if message is None:
            self.fail_path.unlink(missing_ok=True)
        else:
            self.fail_path.write_text(message)


def install(bin_dir: "str | os.PathLike", name: str = "labkittest") -> ScriptedHelper:
    """Write `docker-credential-NAME` into `bin_dir` (created); return its ScriptedHelper."""
    bin_dir = Path(bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    state = bin_dir / f".{name}"
    program = bin_dir / f"docker-credential-{name}"
    paths = dict(store=str(state) + ".store.json", log=str(state) + ".log", fail=str(state) + ".fail")
    program.write_text(_PROGRAM.format(python=sys.executable, **paths))
    program.chmod(0o755)
    return ScriptedHelper(name, program, Path(paths["store"]), Path(paths["log"]), Path(paths["fail"]))

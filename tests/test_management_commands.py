"""Docker's management commands (`docker image ls`, `docker container run`, ...) are its verbs under other names:
docker/cli v29 cli/command/image/cmd.go and cli/command/container/cmd.go list them (the same in Docker 28:
management commands came with Docker 1.13). Each alias runs its verb, with the verb's flags and output;
`image inspect` and `container inspect` look at one kind of object only (docker/cli image/inspect.go,
container/inspect.go pass the type).
"""

from __future__ import annotations

import io
import tarfile

import pytest

from labkit.commands.parser import COMMANDS, MANAGEMENT, build_parser, verb_of

from helpers.cli import run

# the aliases issue 8 asks for, as Docker names them
IMAGE_ALIASES = {"ls": "images", "list": "images", "pull": "pull", "push": "push", "rm": "rmi", "tag": "tag",
                 "inspect": "inspect", "history": "history", "import": "import", "prune": "image prune"}
CONTAINER_ALIASES = {"ls": "ps", "ps": "ps", "create": "create", "start": "start", "stop": "stop", "run": "run",
                     "exec": "exec", "rm": "rm", "diff": "diff", "commit": "commit", "logs": "logs",
                     "inspect": "inspect", "prune": "container prune"}


def _verb(entry) -> str:
    return entry if isinstance(entry, str) else entry[0]


@pytest.mark.parametrize("group, aliases", [("image", IMAGE_ALIASES), ("container", CONTAINER_ALIASES)])
def test_every_alias_docker_has_is_there_and_runs_its_verb(group, aliases):
    parser = build_parser("test")
    subcommands = parser._subparsers._group_actions[0].choices[group]._subparsers._group_actions[0].choices
    for alias, verb in aliases.items():
        assert _verb(MANAGEMENT[group][alias]) == verb, (group, alias)
        if verb not in COMMANDS:
            pytest.fail(f"`{group} {alias}` has no verb `{verb}` to run yet")
        assert alias in subcommands, f"labkit {group} {alias}"
        # the alias's handler is the verb's own code (a new closure per parser)
        alias_args = parser.parse_args([group, alias, *_minimal_args(verb)])
        verb_args = parser.parse_args([*verb.split(), *_minimal_args(verb)]) if " " not in verb else alias_args
        assert alias_args.handler.__code__ is verb_args.handler.__code__, (group, alias)


def _minimal_args(verb: str) -> list:
    """Return positional arguments that let `verb` parse."""
    return {"pull": ["x"], "push": ["x"], "rmi": ["x"], "tag": ["x", "y"], "inspect": ["x"], "history": ["x"],
            "import": ["-", "x"], "create": ["x"], "start": ["x"], "stop": ["x"], "run": ["x"], "exec": ["x", "y"],
            "rm": ["x"], "diff": ["x"], "commit": ["x"], "logs": ["x"]}.get(verb, [])


@pytest.fixture
def lab_now(lab, monkeypatch):
    monkeypatch.setenv("LABKIT_NOW", "2017-01-15T00:00:00Z")
    monkeypatch.setenv("LABKIT_SEED", "management")
    return lab


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_image_aliases_print_what_their_verbs_print(lab_now, store, tmp_path, lab_registry):
    s = ("--image-store", store)
    status, pulled, _ = run(*s, "image", "pull", "busybox")
    assert status == 0 and pulled.splitlines()[-1] == "docker.io/library/busybox:latest"
    assert run(*s, "image", "pull", "busybox") == run(*s, "pull", "busybox")  # up to date, both
    for argv in (["ls"], ["list"], ["ls", "-q"], ["history", "busybox"], ["inspect", "busybox"]):
        assert run(*s, "image", *argv) == run(*s, *{"ls": ["images"], "list": ["images"]}.get(argv[0], [argv[0]]),
                                              *argv[1:]), argv
    assert run(*s, "image", "tag", "busybox", "b:1") == (0, "", "")
    host = lab_registry.url.split("://")[1]
    assert run(*s, "image", "tag", "b:1", f"{host}/b:1")[0] == 0
    status, out, _ = run(*s, "image", "push", f"{host}/b:1")
    assert status == 0 and out.splitlines()[-1].startswith("1: digest: sha256:")
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    status, out, _ = run(*s, "image", "import", str(layer), "imported:1")
    assert status == 0 and out.startswith("sha256:")
    assert run(*s, "image", "rm", "b:1", f"{host}/b:1") == (0, f"Untagged: b:1\nUntagged: {host}/b:1\n", "")
    assert run(*s, "image", "prune", "-f") == (0, "Total reclaimed space: 0B\n" if store == "containerd" else
                                               "Total reclaimed space: 0 B\n", "")


@pytest.mark.parametrize("store", ["containerd", "graphdriver"])
def test_container_aliases_print_what_their_verbs_print(lab_now, store):
    s = ("--image-store", store)
    status, cid, _ = run(*s, "container", "create", "--name", "c1", "busybox", "sleep", "infinity")
    assert status == 0 and len(cid.strip()) == 64
    assert run(*s, "container", "start", "c1") == (0, "c1\n", "")
    assert run(*s, "container", "exec", "c1", "sh", "-c", "echo hi > /greeting") == (0, "", "")
    assert run(*s, "container", "diff", "c1") == run(*s, "diff", "c1") == (0, "A /greeting\n", "")
    for argv in (["ls"], ["ps", "-a"], ["ls", "-q", "--no-trunc"], ["inspect", "-f", "{{.Name}}", "c1"]):
        assert run(*s, "container", *argv) == run(*s, *(["ps"] if argv[0] in ("ls", "ps") else [argv[0]]),
                                                  *argv[1:]), argv
    status, out, _ = run(*s, "container", "commit", "c1", "snap:1")
    assert status == 0 and out.startswith("sha256:")
    assert run(*s, "container", "stop", "c1") == (0, "c1\n", "")
    status, out, _ = run(*s, "container", "run", "--rm", "snap:1", "cat", "/greeting")
    assert (status, out) == (0, "hi\n")
    assert run(*s, "container", "rm", "c1") == (0, "c1\n", "")
    assert run(*s, "container", "prune", "-f") == (0, "Total reclaimed space: 0B\n" if store == "containerd" else
                                                   "Total reclaimed space: 0 B\n", "")
    status, _, err = run(*s, "container", "inspect", "busybox")  # an image is no container
    assert (status, err) == (1, "Error: No such container: busybox\n")


@pytest.mark.parametrize("argv", [
    ["pull", "-q", "busybox"], ["--home", "/h", "images", "--format", "json"], ["--image-store=graphdriver", "ps", "-a"],
    ["--image-store", "containerd", "image", "ls", "-q"], ["container", "logs", "--tail", "2", "c1"],
    ["build", "-t", "app:1", "--progress=plain", "."], ["system", "df", "-v"],
])
def test_a_parser_built_for_one_verb_parses_it_as_the_whole_parser_does(argv):
    whole, one = build_parser("test"), build_parser("test", argv)
    assert len(one._subparsers._group_actions[0].choices) == 1
    got, want = vars(one.parse_args(argv)), vars(whole.parse_args(argv))
    assert got.pop("handler").__code__ is want.pop("handler").__code__
    assert got == want


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["pul", "busybox"], ["--home", "/h"],
                                  ["image prune"], ["-x", "pull"]])
def test_without_a_known_verb_the_whole_parser_answers(argv):
    assert verb_of(argv) is None
    assert build_parser("test", argv)._subparsers._group_actions[0].choices.keys() == \
        build_parser("test")._subparsers._group_actions[0].choices.keys()

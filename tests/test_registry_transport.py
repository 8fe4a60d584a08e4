"""The lab registry served in-process (the browser's way, labkit.registry.transport), checked in CPython.

First the adapter itself; then the pull tests, the push tests and the lab registry's HTTP tests run again,
here, with labkit on the browser's code paths (`labkit.platform.simulate()`): every LabRegistry they start
serves in-process, and so does the pull tests' scripted registry (its socket closed), so each request goes
through InProcessAdapter into the same handler that serves sockets. Tests that need a real socket, another
program (raw http.client, skopeo, subprocesses), threads or worker processes are left out of the re-run:
the browser has none of them (and no file locks, which the threads would need).
"""

from __future__ import annotations

import inspect

import pytest
import requests

from labkit import platform
from labkit.registry import transport
from labkit.registry.server import LabRegistry

import test_lab_registry
import test_pull
import test_push
from helpers.scriptedserver import Handler, ScriptedServer


# --- the adapter ---------------------------------------------------------------------------------------

@pytest.fixture
def in_process(tmp_path):
    with platform.simulate():
        reg = LabRegistry(tmp_path / "registry", addr="127.0.0.1:0").start()
        try:
            yield reg
        finally:
            reg.stop()


def test_start_serves_in_process_on_a_pseudo_port_and_stop_withdraws(in_process):
    assert in_process.in_process and in_process.port >= transport.FIRST_FREE_PORT
    assert transport.served() == sorted([in_process.address, f"localhost:{in_process.port}"])
    r = requests.get(in_process.url + "/v2/")
    assert r.status_code == 200 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.headers["Server"].startswith("labkit-registry")
    in_process.stop()
    assert transport.served() == []
    with pytest.raises(requests.ConnectionError):  # out on the network again: nothing listens there
        requests.get(in_process.url + "/v2/", timeout=2)


def test_localhost_reaches_the_registry_on_127_0_0_1(in_process):
    assert requests.get(f"http://localhost:{in_process.port}/v2/_catalog").json() == {"repositories": []}


def test_bodies_of_every_kind_and_head_requests(in_process):
    url = in_process.url
    data = b"layer bytes " * 1000
    from labkit.digest import Digest

    digest = Digest.of(data)
    start = requests.post(f"{url}/v2/kinds/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["Location"]
    # a generator body: requests would send it chunked; the adapter sends it with a Content-Length
    patched = requests.patch(url + location, data=(data[i:i + 1000] for i in range(0, len(data), 1000)),
                             headers={"Content-Type": "application/octet-stream"})
    assert patched.status_code == 202 and patched.headers["Range"] == f"0-{len(data) - 1}"
    done = requests.put(url + patched.headers["Location"], params={"digest": str(digest)})
    assert done.status_code == 201, done.text
    head = requests.head(f"{url}/v2/kinds/blobs/{digest}")
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) == len(data)
    got = requests.get(f"{url}/v2/kinds/blobs/{digest}", stream=True)
    assert b"".join(got.iter_content(333)) == data
    ranged = requests.get(f"{url}/v2/kinds/blobs/{digest}", headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206 and ranged.content == data[5:10]
    missing = requests.get(f"{url}/v2/kinds/blobs/sha256:{'0' * 64}")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_an_address_not_served_in_process_is_untouched(in_process):
    assert transport.adapter_for(in_process.url + "/v2/") is not None
    assert transport.adapter_for("http://127.0.0.1:1/v2/") is None
    assert transport.adapter_for(f"https://{in_process.address}/v2/") is None  # plain HTTP only
    session = requests.Session()
    assert isinstance(session.get_adapter("http://127.0.0.1:1/"), requests.adapters.HTTPAdapter)
    assert not isinstance(session.get_adapter("http://127.0.0.1:1/"), transport.InProcessAdapter)


def test_two_registries_in_process_get_different_ports(tmp_path):
    with platform.simulate():
        with LabRegistry(tmp_path / "a", addr="127.0.0.1:0") as a, \
                LabRegistry(tmp_path / "b", addr="127.0.0.1:0", auth="token") as b:
            assert a.port != b.port
            assert requests.get(a.url + "/v2/").status_code == 200
            challenge = requests.get(b.url + "/v2/")
            assert challenge.status_code == 401
            assert challenge.headers["WWW-Authenticate"].startswith(f'Bearer realm="{b.url}/token"')


# --- the push and lab registry tests again, on the browser's paths ------------------------------------

_NOT_IN_THE_BROWSER = ("HTTPConnection", "socket", "subprocess", "skopeo", "docker-registry", "serve_forever",
                       "Thread", "current_thread", "worker", "cut_after", "slow_blob")


def _runs_in_process(func) -> bool:
    marks = {m.name for m in getattr(func, "pytestmark", [])}
    source = inspect.getsource(func)
    return "interop" not in marks and not any(word in source for word in _NOT_IN_THE_BROWSER)


def _rerun(module) -> list[str]:
    """Make `module`'s tests and fixtures this module's own (pytest collects them again here)."""
    taken = []
    for name, value in vars(module).items():
        if name.startswith("test_") and callable(value):
            if _runs_in_process(inspect.unwrap(value)):
                globals()[f"{name}__in_process"] = value
                taken.append(name)
        elif not name.startswith("_") and name not in globals() and hasattr(value, "_get_wrapped_function"):
            globals()[name] = value  # a fixture (pytest 8 wraps them)
        elif not name.startswith("_") and name not in globals() and getattr(value, "_pytestfixturefunction", None):
            globals()[name] = value  # a fixture (pytest 7)
    return taken


RERUN = {m.__name__: _rerun(m) for m in (test_pull, test_push, test_lab_registry)}


@pytest.fixture
def scripted_server():
    """The pull tests' scripted registry, answering in-process only: its socket is closed before any request."""
    server = ScriptedServer()
    server.close()
    addresses = [server.host, f"localhost:{server.port}"]
    transport.serve(addresses, transport.InProcessAdapter(Handler, server.httpd))
    try:
        yield server
    finally:
        transport.withdraw(addresses)


@pytest.fixture(scope="module", autouse=True)
def browser_paths():
    """Every test of this module runs with labkit on the browser's code paths, and no registry listens."""
    from labkit.registry.server import app

    def no_socket(*args, **kwargs):
        raise AssertionError("a lab registry opened a socket on the browser's code paths")

    with platform.simulate(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "Listener", no_socket)
        yield


def test_the_rerun_covers_pull_push_and_the_registry_endpoints():
    assert len(RERUN["test_pull"]) >= 20 and len(RERUN["test_push"]) >= 10 and len(RERUN["test_lab_registry"]) >= 40
    assert "test_labkit_pulls_what_it_pushed_from_the_lab_registry" in RERUN["test_push"]

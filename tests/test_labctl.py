"""`lab up / down / reset`: the seeded lab registry in the background, on 127.0.0.1 only."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from labkit import labctl
from labkit.errors import LabkitError
from labkit.home import load_settings, save_settings
from labkit.labimages import LAYOUT_DIR

from helpers.net import free_addr

ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json"])


def _seeded_repositories() -> list[str]:
    doc = json.loads((LAYOUT_DIR / "index.json").read_bytes())
    return sorted({m["annotations"]["io.labkit.repository"] for m in doc["manifests"]})


@pytest.fixture
def home(labkit_home):
    """Return the test's home; whatever registry a test started is stopped afterwards."""
    yield labkit_home
    state = labctl._read_state(labkit_home)
    labctl.lab_down(labkit_home)
    if state is not None:
        assert not labctl._alive(state["pid"])


def _url(home) -> str:
    return labctl.running(home)["url"]


def test_up_serves_the_seeded_registry_and_sets_the_mirror(home):
    lines = labctl.lab_up(home, addr="127.0.0.1:0")
    url = _url(home)
    repos = _seeded_repositories()
    assert lines == [f"lab registry running at {url} (seeded with {len(repos)} repositories)",
                     f"docker.io mirror: {url}"]
    assert url.startswith("http://127.0.0.1:")
    assert requests.get(f"{url}/v2/", timeout=5).status_code == 200
    assert requests.get(f"{url}/v2/_catalog", timeout=5).json()["repositories"] == repos
    tags = requests.get(f"{url}/v2/library/debian/tags/list", timeout=5).json()["tags"]
    assert tags == ["8", "jessie", "latest"]
    r = requests.get(f"{url}/v2/library/busybox/manifests/latest", headers={"Accept": ACCEPT}, timeout=5)
    assert r.status_code == 200
    for child in r.json()["manifests"]:  # each platform manifest is served by digest
        c = requests.get(f"{url}/v2/library/busybox/manifests/{child['digest']}", headers={"Accept": ACCEPT},
                         timeout=5)
        assert c.status_code == 200 and c.headers["Docker-Content-Digest"] == child["digest"]
    assert load_settings(home)["registry-mirrors"] == [url]
    state = json.loads(labctl.state_path(home).read_text())
    assert state["url"] == url and labctl.pid_path(home).read_text().strip() == str(state["pid"])
    assert (home / "lab-registry" / "index.json").read_bytes() == (LAYOUT_DIR / "index.json").read_bytes()


def test_search_answers_from_the_seeded_labels(home):
    labctl.lab_up(home, addr="127.0.0.1:0")
    results = requests.get(f"{_url(home)}/v1/search", params={"q": "zookeeper"}, timeout=5).json()["results"]
    by_name = {r["name"]: r for r in results}
    assert len(by_name) == 7
    assert by_name["jplock/zookeeper"]["star_count"] == 159 and by_name["jplock/zookeeper"]["is_automated"]
    assert by_name["zookeeper"]["is_official"]


def test_a_second_up_says_already_running(home):
    labctl.lab_up(home, addr="127.0.0.1:0")
    url, pid = _url(home), labctl.running(home)["pid"]
    lines = labctl.lab_up(home, addr="127.0.0.1:0")
    assert lines[0].startswith(f"lab registry already running at {url} (pid {pid}")
    assert labctl.running(home)["pid"] == pid


def test_down_stops_it_and_removes_the_mirror_only(home):
    save_settings(home, {"registry-mirrors": ["https://mirror.example.org"], "insecure-registries": ["x:5000"]})
    labctl.lab_up(home, addr="127.0.0.1:0")
    url, pid = _url(home), labctl.running(home)["pid"]
    assert load_settings(home)["registry-mirrors"] == [url, "https://mirror.example.org"]
    lines = labctl.lab_down(home)
    assert lines == [f"lab registry stopped (was {url}, pid {pid})", "docker.io mirror: removed"]
    assert not labctl._alive(pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v2/", timeout=2)
    assert load_settings(home) == {"registry-mirrors": ["https://mirror.example.org"],
                                   "insecure-registries": ["x:5000"]}
    assert not labctl.pid_path(home).exists() and labctl.running(home) is None
    assert labctl.lab_down(home)[0] == "lab registry was not running"


def test_up_without_mirror_removes_the_setting(home):
    labctl.lab_up(home, addr="127.0.0.1:0")
    url = _url(home)
    lines = labctl.lab_up(home, mirror=False)
    assert lines[1].startswith("docker.io mirror: not set")
    assert "registry-mirrors" not in load_settings(home)
    assert requests.get(f"{url}/v2/", timeout=5).status_code == 200


def test_reset_restores_a_deleted_tag_and_removes_local_state(home):
    labctl.lab_up(home, addr="127.0.0.1:0")
    url = _url(home)
    assert requests.delete(f"{url}/v2/library/debian/manifests/jessie", timeout=5).status_code == 202
    assert requests.get(f"{url}/v2/library/debian/manifests/jessie", headers={"Accept": ACCEPT},
                        timeout=5).status_code == 404
    for sub in ("store/blobs", "layers/sha256", "containers/abc"):
        (home / sub).mkdir(parents=True)
    (home / "containers" / "abc" / "config.json").write_text("{}")
    lines = labctl.lab_reset(home)
    url2 = _url(home)
    assert url2 == url  # same address as before
    assert "local images removed" in lines and "containers removed" in lines
    n = len(_seeded_repositories())
    assert lines == [f"lab registry stopped (was {url}, pid {lines[0].rsplit(' ', 1)[1][:-1]})",
                     f"lab registry restored to the {n} seeded repositories", "local images removed",
                     "containers removed", f"lab registry running at {url2} ({n} repositories)",
                     f"docker.io mirror: {url2}"]
    r = requests.get(f"{url2}/v2/library/debian/manifests/jessie", headers={"Accept": ACCEPT}, timeout=5)
    assert r.status_code == 200
    for sub in ("store", "layers", "containers"):
        assert not (home / sub).exists()
    assert load_settings(home)["registry-mirrors"] == [url2]
    assert (home / "lab-registry" / "index.json").read_bytes() == (LAYOUT_DIR / "index.json").read_bytes()


def test_a_port_taken_by_another_program_is_a_clear_error(home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(LabkitError, match=f"port {port} on 127.0.0.1 is already in use by another program"):
            labctl.lab_up(home, addr=f"127.0.0.1:{port}")
    assert labctl.running(home) is None
    assert "registry-mirrors" not in load_settings(home)


def test_a_stale_pid_file_does_not_count_as_running(home):
    labctl.state_path(home).parent.mkdir(parents=True)
    labctl.state_path(home).write_text(json.dumps({"pid": 2 ** 22 + 7, "url": "http://127.0.0.1:1",
                                                   "root": str(home / "lab-registry")}))
    assert labctl.running(home) is None
    lines = labctl.lab_up(home, addr="127.0.0.1:0")
    assert lines[0].startswith("lab registry running at")


def test_a_remote_address_is_refused(home):
    with pytest.raises(LabkitError):
        labctl.lab_up(home, addr="0.0.0.0:0")
    assert labctl.running(home) is None


def test_a_port_taken_by_another_homes_lab_registry_says_so(home, tmp_path):
    other = tmp_path / "other-home"
    try:
        labctl.lab_up(other, addr="127.0.0.1:0", mirror=False)
        port = int(labctl.running(other)["url"].rsplit(":", 1)[1])
        with pytest.raises(LabkitError, match="in use by another lab registry"):
            labctl.lab_up(home, addr=f"127.0.0.1:{port}")
    finally:
        labctl.lab_down(other)
    assert labctl.running(other) is None


# --- whose registry: identity, stale registries, a free port when the default is another's -------------------

@pytest.fixture
def default_addr(monkeypatch):
    """Move the default lab address (127.0.0.1:5000) to a free port for the test."""
    addr = free_addr()
    monkeypatch.setenv(labctl.ADDR_ENV, addr)
    return addr


def test_two_homes_at_once_each_get_their_own_registry(home, tmp_path, default_addr):
    """A shared host (one loopback for every user): the second home does not use the first one's registry."""
    other = tmp_path / "other-home"
    try:
        assert labctl.lab_up(other)[0].startswith(f"lab registry running at http://{default_addr} ")
        lines = labctl.lab_up(home)
        url = _url(home)
        assert lines[0] == (f"{default_addr} is in use by another lab registry (of another labkit home): "
                            "this home's lab registry takes a free port instead")
        assert lines[1].startswith(f"lab registry running at {url} ") and url != f"http://{default_addr}"
        assert load_settings(home)["registry-mirrors"] == [url]
        host, port = default_addr.split(":")
        assert labctl.who_holds(host, int(port), other) == "own"
        assert labctl.who_holds(host, int(port), home) == "lab"
        # what one home's registry holds, the other's does not
        assert requests.delete(f"{url}/v2/library/debian/manifests/jessie", timeout=5).status_code == 202
        assert requests.get(f"http://{default_addr}/v2/library/debian/manifests/jessie", headers={"Accept": ACCEPT},
                            timeout=5).status_code == 200
        # asked again, each home finds its own
        assert labctl.lab_up(home)[0].startswith(f"lab registry already running at {url} ")
        assert labctl.lab_up(other)[0].startswith(f"lab registry already running at http://{default_addr} ")
    finally:
        labctl.lab_down(other)


def test_a_registry_whose_home_was_deleted_stops_and_is_replaced(home, tmp_path, default_addr):
    gone = tmp_path / "deleted-home"
    labctl.lab_up(gone)
    pid = labctl.running(gone)["pid"]
    labctl._rmtree(gone)
    lines = labctl.lab_up(home)  # waits for the stale one to stop, then takes the default address
    assert lines[0].startswith(f"lab registry running at http://{default_addr} ")
    assert not labctl._alive(pid)


def test_the_identity_proves_without_revealing_the_secret(home, default_addr):
    labctl.lab_up(home)
    secret = labctl.secret_path(home).read_bytes()
    assert oct(labctl.secret_path(home).stat().st_mode & 0o777) == "0o600"
    answer = requests.get(f"http://{default_addr}/_labkit/identity", params={"nonce": "n" * 32}, timeout=5).json()
    assert secret.hex() not in json.dumps(answer) and answer["stale"] is False
    from labkit.registry.server.identity import proof_matches

    assert proof_matches(secret, "n" * 32, answer["proof"]) and not proof_matches(secret, "m" * 32, answer["proof"])
    assert requests.get(f"http://{default_addr}/_labkit/identity", params={"nonce": "short"},
                        timeout=5).status_code == 400


def test_a_lost_state_file_adopts_the_running_registry(home, default_addr):
    labctl.lab_up(home)
    pid = labctl.running(home)["pid"]
    labctl.state_path(home).unlink()
    labctl.pid_path(home).unlink()
    lines = labctl.lab_up(home)
    assert lines[0].startswith(f"lab registry running at http://{default_addr} ")
    assert labctl.running(home)["pid"] == pid


def test_reset_keeps_the_default_address_rule(home, tmp_path, default_addr):
    other = tmp_path / "other-home"
    try:
        labctl.lab_up(other)
        labctl.lab_up(home)  # on a free port: the default is the other home's
        lines = labctl.lab_reset(home)
        assert any(" is in use by another lab registry" in line for line in lines)
        assert _url(home) != f"http://{default_addr}"
    finally:
        labctl.lab_down(other)


# --- localhost:5000 is this home's registry, wherever it listens (containerd's hosts.toml) --------------------

def _repositories(url: str) -> list[str]:
    return requests.get(f"{url}/v2/_catalog", timeout=5).json()["repositories"]


def _push_as(home, ref: str) -> None:
    from labkit.lab import Lab

    lab = Lab(home)
    lab.pull("busybox")
    lab.tag("busybox", ref)
    lab.push(ref)


def test_two_homes_push_to_localhost_5000_each_into_its_own_registry(home, tmp_path, default_addr):
    from labkit.lab import Lab
    from labkit.registry import hosts

    port = default_addr.split(":")[1]
    other = tmp_path / "other-home"
    try:
        labctl.lab_up(other)  # the default address: no redirect there
        labctl.lab_up(home)  # a free port, and the default address's names point at it
        url = _url(home)
        assert not hosts.config_dir(other).exists()
        written = sorted(p.parent.name for p in hosts.config_dir(home).glob("*/hosts.toml"))
        assert written == [f"127.0.0.1:{port}", f"localhost:{port}"]
        toml = (hosts.config_dir(home) / f"localhost:{port}" / "hosts.toml").read_text()
        assert toml.startswith("# Written by `labkit lab up`") and f'server = "{url}"' in toml
        assert hosts.endpoints(f"localhost:{port}", home, "push") == [url]

        _push_as(other, f"localhost:{port}/from-other:1")
        _push_as(home, f"localhost:{port}/from-home:1")
        _push_as(home, f"127.0.0.1:{port}/also-home:1")
        assert "from-home" in _repositories(url) and "also-home" in _repositories(url)
        assert "from-other" not in _repositories(url)
        assert "from-other" in _repositories(f"http://{default_addr}")
        assert "from-home" not in _repositories(f"http://{default_addr}")

        # pull and search go the same way
        fresh = tmp_path / "home-again"
        fresh.mkdir()
        (hosts.config_dir(fresh)).mkdir()
        for name in (f"localhost:{port}", f"127.0.0.1:{port}"):
            (hosts.config_dir(fresh) / name).mkdir()
            (hosts.config_dir(fresh) / name / "hosts.toml").write_bytes(
                (hosts.config_dir(home) / name / "hosts.toml").read_bytes())
        assert Lab(fresh).pull(f"localhost:{port}/from-home:1").host == f"localhost:{port}"
        assert Lab(home).search(f"localhost:{port}/from-home") is not None

        # down removes the files; up again, alone, takes the default address and writes none
        labctl.lab_down(home)
        assert list(hosts.config_dir(home).glob("*/hosts.toml")) == []
    finally:
        labctl.lab_down(other)
    labctl.lab_up(home)
    assert _url(home) == f"http://{default_addr}" and list(hosts.config_dir(home).glob("*/hosts.toml")) == []


def test_a_hosts_file_of_the_users_own_is_left_alone(home, tmp_path, default_addr):
    from labkit.registry import hosts

    port = default_addr.split(":")[1]
    mine = hosts.config_dir(home) / f"localhost:{port}" / "hosts.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text('server = "http://127.0.0.1:1"\n')
    other = tmp_path / "other-home"
    try:
        labctl.lab_up(other)
        labctl.lab_up(home)
        assert mine.read_text() == 'server = "http://127.0.0.1:1"\n'
        assert (hosts.config_dir(home) / f"127.0.0.1:{port}" / "hosts.toml").read_text().startswith("# Written")
        labctl.lab_down(home)
        assert mine.exists() and not (hosts.config_dir(home) / f"127.0.0.1:{port}").exists()
    finally:
        labctl.lab_down(other)


def test_a_notebook_home_gets_the_redirects_of_its_users_home(home, tmp_path, default_addr, monkeypatch):
    from labkit import notebook
    from labkit.registry import hosts

    port = default_addr.split(":")[1]
    other = tmp_path / "other-home"
    monkeypatch.setenv("LABKIT_NOTEBOOK_BASE", str(home))
    try:
        labctl.lab_up(other)
        lab = notebook.setup("08")
        assert hosts.endpoints(f"localhost:{port}", lab.home, "push") == [_url(home)]
    finally:
        labctl.lab_down(other)

"""Transfers as Docker runs them: up to max-concurrent-downloads (3) blobs pulled and max-concurrent-uploads (5)
layers pushed at once, one at a time in the browser (no threads), progress lines in Docker's order whatever
the order on the wire, and an interrupted download resumed with a Range request (the whole blob verified)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from labkit import platform
from labkit.digest import Digest
from labkit.errors import DigestMismatch, LabkitError, RegistryError
from labkit.progress import Recorder
from labkit.pull import pull
from labkit.push import push, render_push_lines
from labkit.store import Store

from helpers import imagefactory as factory
from helpers.recorder import RecordingProxy
from helpers.registries import start_lab_registry
from helpers.scriptedserver import blob, serve_image, slow_blob

LAYERS = 6
NO_RETRY = {"retries": 1, "backoff": 0}


def many_layers(n: int = LAYERS, size: int = 3000):
    return factory.make_image([{f"f{i}": os.urandom(size)} for i in range(n)])


class InFlight:
    """Counts requests being answered at once by slow blob steps; records the client's threads too."""

    def __init__(self, delay: float = 0.15):
        self.delay = delay
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def slow(self, data: bytes, hold: float | None = None):
        def step(h):
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(self.delay if hold is None else hold)
                blob(data)(h)
            finally:
                with self.lock:
                    self.now -= 1
        return step


# --- how many at once -------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings,most", [({}, 3), ({"max-concurrent-downloads": 1}, 1),
                                           ({"max-concurrent-downloads": 5}, 5)])
def test_pull_downloads_at_most_max_concurrent_downloads(scripted_server, tmp_path, settings, most):
    img = many_layers()
    flight = InFlight()
    serve_image(scripted_server, "x", "v1", img, slow=flight.slow)
    pull(Store(tmp_path / "home"), f"{scripted_server.host}/x:v1", settings=settings)
    assert flight.most == most


def test_in_the_browser_a_pull_is_one_blob_at_a_time_without_threads(scripted_server, tmp_path):
    img = many_layers(3)
    flight = InFlight(0.05)
    serve_image(scripted_server, "x", "v1", img, slow=flight.slow)
    threads = set()
    rec = Recorder()

    def progress(event):
        threads.add(threading.current_thread().name)
        rec(event)
    with platform.simulate(browser=True):
        pull(Store(tmp_path / "home"), f"{scripted_server.host}/x:v1", settings={"max-concurrent-downloads": 5},
             progress=progress)
    assert flight.most == 1 and threads == {threading.current_thread().name}


@pytest.mark.parametrize("value", [-1, "3", 2.5, True])
def test_a_bad_concurrency_setting_is_a_clear_error(scripted_server, tmp_path, value):
    serve_image(scripted_server, "x", "v1", many_layers(1))
    with pytest.raises(LabkitError, match=rf"^daemon\.json: invalid max concurrent downloads: {value!r}$"):
        pull(Store(tmp_path / "home"), f"{scripted_server.host}/x:v1", settings={"max-concurrent-downloads": value})
    assert scripted_server.log == []  # refused before any request


@pytest.fixture
def slow_lab_registries(tmp_path):
    """Return a function starting an empty lab registry behind a recording proxy that holds each answer
    0.15 s (so uploads overlap); the proxy is what it returns."""
    started = []

    def start():
        reg = start_lab_registry(tmp_path, name=f"slow-{len(started)}")
        proxy = RecordingProxy(reg.url, delay=0.15)
        started.append((reg, proxy))
        return proxy
    yield start
    for reg, proxy in started:
        proxy.stop()
        reg.stop()


@pytest.fixture
def slow_lab_registry(slow_lab_registries):
    """An empty lab registry behind a recording proxy that holds each answer 0.15 s."""
    return slow_lab_registries()


@pytest.mark.parametrize("settings,most", [({}, 5), ({"max-concurrent-uploads": 2}, 2),
                                           ({"max-concurrent-uploads": 1}, 1)])
def test_push_uploads_at_most_max_concurrent_uploads(slow_lab_registry, tmp_path, settings, most):
    store = Store(tmp_path / "home")
    img = many_layers()
    factory.store_image(store, img, f"{slow_lab_registry.host}/team/many:1")
    res = push(store, f"{slow_lab_registry.host}/team/many:1", settings=settings)
    assert res.digest == img.manifest_digest and [b.outcome for b in res.blobs] == ["pushed"] * (LAYERS + 1)
    assert slow_lab_registry.max_in_flight["PUT"] == most


def test_in_the_browser_a_push_is_one_layer_at_a_time_with_the_lines_of_the_configured_limit(slow_lab_registry,
                                                                                             tmp_path):
    store = Store(tmp_path / "home")
    img = many_layers(3)
    factory.store_image(store, img, f"{slow_lab_registry.host}/team/few:1")
    rec = Recorder()
    with platform.simulate(browser=True):
        push(store, f"{slow_lab_registry.host}/team/few:1", settings={"max-concurrent-uploads": 2}, progress=rec)
    assert slow_lab_registry.max_in_flight["PUT"] == 1
    ids = [d.short for d in reversed(img.diff_ids)]
    assert render_push_lines(rec.events)[1:8] == ([f"{i}: Preparing" for i in ids] + [f"{ids[2]}: Waiting"]
                                                  + [f"{i}: Pushed" for i in ids])


# --- progress lines stay in Docker's order ---------------------------------------------------------------

def test_parallel_pull_prints_the_same_lines_as_a_serial_one(scripted_server, tmp_path):
    img = many_layers(4)
    flight = InFlight()
    ids = [lb.digest.short for lb in img.layers]
    # the first layer arrives last: the plain renderer still prints the layers in manifest order
    holds = {lb.digest: 0.4 - 0.1 * i for i, lb in enumerate(img.layers)}
    serve_image(scripted_server, "x", "v1", img, slow=lambda data: flight.slow(data, holds.get(Digest.of(data), 0)))
    lines = []
    for n, settings in enumerate([{"max-concurrent-downloads": 5}, {"max-concurrent-downloads": 1}]):
        rec = Recorder()
        pull(Store(tmp_path / f"home{n}"), f"{scripted_server.host}/x:v1", settings=settings, progress=rec)
        lines.append(rec.lines(detail="all"))
    assert lines[0] == lines[1]
    layer_lines = [line.split(": ")[0] for line in lines[0] if line.split(": ")[0] in ids]
    assert list(dict.fromkeys(layer_lines)) == ids  # each layer's lines together, in manifest order


@pytest.mark.parametrize("settings,waiting", [({}, 3), ({"max-concurrent-downloads": 2}, 4),
                                              ({"max-concurrent-downloads": 6}, 0)])
def test_new_layers_past_max_concurrent_downloads_say_waiting(scripted_server, tmp_path, settings, waiting):
    """Docker's download manager: "Waiting" for each new layer past the limit (layers the host has take no
    place); the terminal shows it, the plain lines leave it out."""
    import io

    from labkit.layers.store import LayerStore
    from labkit.progress import WAITING, TerminalRenderer

    base = factory.layer({"base": b"shared"})
    first = factory.make_image([base])
    img = factory.make_image([base] + [{f"f{i}": os.urandom(500)} for i in range(LAYERS)])
    serve_image(scripted_server, "x", "first", first)
    serve_image(scripted_server, "x", "v1", img)
    store = Store(tmp_path / "home")
    pull(store, f"{scripted_server.host}/x:first", settings=settings)
    rec = Recorder()
    pull(store, f"{scripted_server.host}/x:v1", settings=settings, progress=rec,
         extract=LayerStore(store.home, store=store))
    new = [lb.digest.short for lb in img.layers[1:]]
    assert [e.layer_id for e in rec.events if getattr(e, "status", None) == WAITING] == new[len(new) - waiting:]
    assert not any("Waiting" in line for line in rec.lines(detail="all"))
    tty = io.StringIO()
    r = TerminalRenderer(tty)
    for e in rec.events:
        r(e)
    assert tty.getvalue().count(": Waiting") == waiting


def test_parallel_push_prints_the_same_lines_as_a_serial_one_but_waiting(slow_lab_registries, tmp_path):
    """Docker's push lines: every layer "Preparing", those past max-concurrent-uploads "Waiting" (docker's
    transfer manager), then each final line, top layer first, whatever order the uploads finished in."""
    img = many_layers(LAYERS)
    ids = [d.short for d in reversed(img.diff_ids)]
    lines = []
    for n, settings in enumerate([{}, {"max-concurrent-uploads": 2}, {"max-concurrent-uploads": 1}]):
        registry = slow_lab_registries()
        store = Store(tmp_path / f"home{n}")
        factory.store_image(store, img, f"{registry.host}/team/r:1")
        rec = Recorder()
        push(store, f"{registry.host}/team/r:1", settings=settings, progress=rec)
        lines.append([line.replace(registry.host, "HOST") for line in render_push_lines(rec.events)])
    for got, limit in zip(lines, (5, 2, 1)):
        assert got == (["The push refers to repository [HOST/team/r]"] + [f"{i}: Preparing" for i in ids]
                       + [f"{i}: Waiting" for i in ids[limit:]] + [f"{i}: Pushed" for i in ids]
                       + [f"1: digest: {img.manifest_digest} size: {len(img.manifest)}"])


# --- an interrupted download resumes ----------------------------------------------------------------------

def partials(store) -> "list[Path]":
    ingest = store.layout.ingest_dir
    return sorted(ingest.glob("*.partial")) if ingest.is_dir() else []


def interrupted_pull(server, store, img, cut: int):
    """Serve `img` whose big layer drops after `cut` bytes once; pull without retries (it fails); return
    the big layer."""
    big = max(img.layers, key=lambda lb: lb.size)
    serve_image(server, "x", "v1", img)
    server.route("GET", f"/v2/x/blobs/{big.digest}", blob(big.data, cut_after=cut), blob(big.data))
    with pytest.raises(RegistryError, match="connection to .* lost at byte"):
        pull(store, f"{server.host}/x:v1", settings={"max-concurrent-downloads": 1}, client_options=NO_RETRY)
    return big


def test_an_interrupted_download_resumes_with_a_range_request(scripted_server, tmp_path):
    store = Store(tmp_path / "home")
    img = factory.make_image([{"small": b"s" * 100}, {"big": os.urandom(200_000)}])
    big = interrupted_pull(scripted_server, store, img, 70_000)
    (partial,) = partials(store)
    assert partial.name.startswith(big.digest.hex) and partial.stat().st_size == 70_000
    n = len(scripted_server.log)
    res = pull(store, f"{scripted_server.host}/x:v1", settings={})
    assert res.manifest_digest == img.manifest_digest and store.layout.read_blob(big.digest) == big.data
    (resumed,) = [r for r in scripted_server.log[n:] if r[1] == f"/v2/x/blobs/{big.digest}"]
    assert resumed[2]["Range"] == f"bytes=70000-{big.size - 1}"
    assert partials(store) == []


def test_resumed_bytes_that_do_not_match_are_rejected_then_fetched_whole(scripted_server, tmp_path):
    store = Store(tmp_path / "home")
    img = factory.make_image([{"big": os.urandom(200_000)}])
    big = interrupted_pull(scripted_server, store, img, 50_000)
    (partial,) = partials(store)
    data = bytearray(partial.read_bytes())
    data[10] ^= 0xFF  # the disk kept a wrong byte
    partial.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch):
        pull(store, f"{scripted_server.host}/x:v1", settings={})
    assert partials(store) == [] and not store.layout.has_blob(big.digest)  # bad bytes are never kept
    n = len(scripted_server.log)
    pull(store, f"{scripted_server.host}/x:v1", settings={})
    assert store.layout.read_blob(big.digest) == big.data
    assert all("Range" not in r[2] for r in scripted_server.log[n:])


def test_a_registry_that_ignores_range_sends_it_all_and_we_skip_what_we_have(scripted_server, tmp_path):
    store = Store(tmp_path / "home")
    img = factory.make_image([{"big": os.urandom(100_000)}])
    big = interrupted_pull(scripted_server, store, img, 30_000)
    scripted_server.route("GET", f"/v2/x/blobs/{big.digest}", blob(big.data, honour_range=False))
    pull(store, f"{scripted_server.host}/x:v1", settings={})
    assert store.layout.read_blob(big.digest) == big.data


def test_a_killed_pull_resumes_where_it_stopped(scripted_server, labkit_home):
    """SIGKILL a pulling process in the middle of a slow blob: the next pull asks only for the rest."""
    data = os.urandom(600_000)
    img = factory.make_image([{"big": data}])
    big = img.layers[0]

    serve_image(scripted_server, "x", "v1", img, slow=lambda payload: slow_blob(payload, pause=0.05))
    ref = f"{scripted_server.host}/x:v1"
    code = textwrap.dedent(f"""
        import sys
        from labkit.store import Store
        from labkit.pull import pull
        pull(Store(sys.argv[1]), {ref!r}, settings={{}})
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    store = Store(labkit_home)
    p = subprocess.Popen([sys.executable, "-c", code, str(labkit_home)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill it once a good part of the blob is on disk
        sizes = [f.stat().st_size for f in partials(store)]
        if sizes and max(sizes) > 100_000:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    (partial,) = partials(store)
    kept = partial.stat().st_size
    assert 100_000 <= kept < len(big.data)
    n = len(scripted_server.log)
    pull(store, ref, settings={})
    assert store.layout.read_blob(big.digest) == big.data
    (resumed,) = [r for r in scripted_server.log[n:] if r[1] == f"/v2/x/blobs/{big.digest}"]
    assert resumed[2]["Range"] == f"bytes={kept}-{len(big.data) - 1}"


@pytest.mark.interop("docker-registry", "skopeo")
def test_the_real_registry_answers_the_resumed_range(distribution_registry, tmp_path):
    from helpers import skopeo

    img = factory.make_image([{"big": os.urandom(300_000)}])
    big = img.layers[0]
    skopeo.push_built(tmp_path, img, f"{distribution_registry.host}/lab/big:1")
    proxy = RecordingProxy(distribution_registry.url)
    try:
        proxy.cut_next(f"/blobs/{big.digest}", 120_000)
        store = Store(tmp_path / "home")
        with pytest.raises(RegistryError, match="lost at byte 120000"):
            pull(store, f"{proxy.host}/lab/big:1", settings={}, client_options=NO_RETRY)
        proxy.conversation.clear()
        pull(store, f"{proxy.host}/lab/big:1", settings={})
        assert store.layout.read_blob(big.digest) == big.data
        (resumed,) = [r for r in proxy.conversation if r.path.endswith(str(big.digest))]
        assert resumed.request_headers["Range"] == f"bytes=120000-{big.size - 1}"
        assert resumed.status == 206 and resumed.response_headers["Content-Range"] == \
            f"bytes 120000-{big.size - 1}/{big.size}"
    finally:
        proxy.stop()


@pytest.mark.interop("docker-registry", "skopeo")
def test_the_real_registry_sees_docker_concurrency(distribution_registry, tmp_path):
    """Through a proxy that holds each answer of the real registry 0.15 s: 3 blob downloads at once, 5 uploads."""
    from helpers import skopeo

    pulled, pushed = many_layers(), many_layers()
    skopeo.push_built(tmp_path, pulled, f"{distribution_registry.host}/lab/many:1")
    proxy = RecordingProxy(distribution_registry.url, delay=0.15)
    try:
        store = Store(tmp_path / "home")
        pull(store, f"{proxy.host}/lab/many:1", settings={})
        assert proxy.max_in_flight["GET"] == 3
        factory.store_image(store, pushed, f"{proxy.host}/team/many:1")
        res = push(store, f"{proxy.host}/team/many:1", settings={})
        assert [b.outcome for b in res.blobs] == ["pushed"] * (LAYERS + 1)
        assert proxy.max_in_flight["PUT"] == 5
        assert skopeo.inspect_raw(f"{distribution_registry.host}/team/many:1") == pushed.manifest
    finally:
        proxy.stop()

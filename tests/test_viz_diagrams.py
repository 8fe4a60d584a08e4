"""Diagrams are text: compare DOT sources, check stability, and that nothing run-specific leaks in."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from labkit.errors import InvalidReference
from labkit.oci import ImageConfig
from labkit.registry.trace import Exchange, Trace
from labkit.store import Store
from labkit.viz import diagrams as d
from labkit.viz import models as m

from helpers import imagefactory as factory

A, B, C = "a" * 64, "b" * 64, "c" * 64


def box(hex64: str, size=None, created_by="") -> m.LayerBox:
    return m.LayerBox(hex64[:12], size, created_by, digest=f"sha256:{hex64}")


def two_layer_image() -> m.ImageLayers:
    return m.ImageLayers("app:1", (box(A, 1_110_000, "/bin/sh -c #(nop) ADD file:x in /"),
                                   box(B, 2048, 'RUN echo "hi" \\')), "0123456789ab")


LEAKS = [
    (re.compile(r"0x[0-9a-f]{6,}"), "memory address"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "date"),
    (re.compile(r"/tmp/|pytest-of|labkit-home"), "temp path"),
    (re.compile(r"\bat 0x|object at"), "repr"),
]


def assert_no_leaks(source: str, ports: bool = True) -> None:
    for rx, what in LEAKS:
        assert not rx.search(source), f"{what} in DOT source: {rx.search(source).group(0)!r}"
    if ports:
        assert not re.search(r"\b(?:127\.0\.0\.1|localhost):\d+", source), "a port in the DOT source"


# --- layer stacks ---------------------------------------------------------------------------------------

def test_layer_stack_exact_source():
    assert d.layer_stack(two_layer_image()).source == r'''digraph layer_stack {
	graph [fontname=Helvetica fontsize=12 labelloc=t nodesep=0.3 rankdir=TB ranksep=0.12]
	node [fillcolor=white fontname=Helvetica fontsize=11 shape=box style=filled]
	edge [fontname=Helvetica fontsize=10]
	subgraph cluster_image {
		color="#4a6b8a" label="image app:1  0123456789ab\nread-only layers, base at the bottom" style=rounded
		L1 [label="layer 2  diff ID bbbbbbbbbbbb\nRUN echo \"hi\" \\\n2.05 kB, read-only" fillcolor="#dbe8f5" penwidth=1 width=3.4]
		L0 [label="layer 1  diff ID aaaaaaaaaaaa\nADD file:x in /\n1.11 MB, read-only" fillcolor="#dbe8f5" penwidth=1 width=3.4]
	}
	L1 -> L0 [arrowhead=none]
}
'''


def test_layer_stack_from_names_is_the_texts_java_app_bottom_up():
    src = d.layer_stack_from_names().source
    names = ["CentOS", "JRE", "Tomcat", "Dependencies", "Application JAR", "Configuration"]
    for i, name in enumerate(names):
        assert f'L{i} [label="layer {i + 1}: {name}\\nread-only"' in src
    # drawn top first; each layer sits on the one below it
    assert [int(x) for x in re.findall(r"^\t\tL(\d) \[", src, re.M)] == [5, 4, 3, 2, 1, 0]
    for i in range(5, 0, -1):
        assert f"\tL{i} -> L{i - 1} [arrowhead=none]" in src
    assert "size unknown" not in src and " B," not in src  # named layers have no size to show


def test_layer_stack_with_sizes_and_empty_image():
    src = d.layer_stack_from_names(["Base", "App"], sizes=[5_000_000, None]).source
    assert "layer 1: Base\\n5 MB, read-only" in src and "layer 2: App\\nread-only" in src
    empty = d.layer_stack(m.ImageLayers("scratch")).source
    assert 'L0 [label="no layers\\n(an empty image, like scratch)"' in empty and "->" not in empty


def test_layer_stack_from_an_image_config():
    raw = ImageConfig.build(diff_ids=[f"sha256:{A}", f"sha256:{B}"], platform="linux/amd64",
                            created="2016-09-23T17:20:10Z",
                            history=[{"created": "2016-09-23T17:20:10Z", "created_by": "/bin/sh -c #(nop) ADD file:"
                                      + C + " in / "},
                                     {"created": "2016-09-23T17:20:11Z", "empty_layer": True,
                                      "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]"},
                                     {"created": "2016-09-23T17:20:12Z", "created_by": "/bin/sh -c apt-get update"}])
    cfg = ImageConfig.from_bytes(raw)
    boxes = m.layers_from_config(cfg, sizes=[100, 200])
    assert [(b.id12, b.size, b.created_by) for b in boxes] == [
        (A[:12], 100, "/bin/sh -c #(nop) ADD file:" + C + " in / "), (B[:12], 200, "/bin/sh -c apt-get update")]
    src = d.layer_stack(cfg).source
    assert f"layer 1  diff ID {A[:12]}\\nADD file:{C[:12]} in /\\nsize unknown, read-only" in src
    assert f"layer 2  diff ID {B[:12]}\\nRUN apt-get update\\nsize unknown, read-only" in src
    assert "CMD" not in src  # an empty_layer step makes no layer
    assert_no_leaks(src)


def test_image_layers_from_the_store(labkit_home):
    store = Store(labkit_home)
    img = factory.make_image([{"a.txt": b"a" * 3000}, {"b.txt": b"b" * 5000}])
    factory.store_image(store, img, "localhost:5000/x:v1")
    il = m.image_layers(store, "localhost:5000/x:v1")
    assert il.name == "localhost:5000/x:v1" and il.image_id12 == img.config_digest.short
    assert [b.id12 for b in il.layers] == [lb.diff_id.short for lb in img.layers]
    assert [b.size for b in il.layers] == [3000, 5000] == [factory.files_size(lb) for lb in img.layers]
    assert [b.created_by for b in il.layers] == ["imagefactory layer 0", "imagefactory layer 1"]
    assert m.image_layers(store, img.config_digest.short, name="x") == m.ImageLayers("x", il.layers, il.image_id12)
    src = d.layer_stack(il).source
    assert_no_leaks(src, ports=False)
    assert str(labkit_home) not in src
    # the diagrams look images up themselves when given the store
    assert d.layer_stack("localhost:5000/x:v1", store=store).source == src
    assert d.layer_stack(store.resolve("localhost:5000/x:v1"), store=store).source == src
    factory.store_image(store, img, "localhost:5000/y:v2")
    both = d.shared_layers(["localhost:5000/x:v1", "localhost:5000/y:v2"], store=store).source
    assert "shared by 2 images" in both and 'I1 [label="image localhost:5000/y:v2' in both
    assert "container web" in d.container_layers("localhost:5000/x:v1", [], name="web", store=store).source


@pytest.mark.parametrize("raw, expected", [
    ("/bin/sh -c #(nop) ADD file:" + A + " in / ", "ADD file:" + A[:12] + " in /"),
    ("/bin/sh -c #(nop)  CMD [\"bash\"]", 'CMD ["bash"]'),
    ("/bin/sh -c apt-get update &&     apt-get install -y curl", "RUN apt-get update && apt-get install -y curl"),
    ("|1 VERSION=1 /bin/sh -c make", "RUN |1 VERSION=1 /bin/sh -c make"),
    ("COPY app.jar /app/ # buildkit", "COPY app.jar /app/ # buildkit"),
    ("RUN " + "x" * 80, "RUN " + "x" * 41 + "..."),
    ("", ""),
])
def test_short_command(raw, expected):
    assert m.short_command(raw) == expected


def test_labels_escape_backslashes_quotes_and_never_become_html():
    img = m.ImageLayers("<none>", (m.LayerBox("", None, "", name="<b>x</b>"),))
    src = d.layer_stack(img).source
    assert 'label="image <none>\\nread-only layers, base at the bottom"' in src
    assert 'label="layer 1: <b>x</b>\\nread-only"' in src
    src = d.layer_stack([m.LayerBox(name='say "\\n" \\')]).source
    assert r'label="layer 1: say \"\\n\" \\\nread-only"' in src
    d.svg(src)  # graphviz accepts it


# --- shared layers --------------------------------------------------------------------------------------

def test_shared_layers_draws_a_shared_base_once():
    base = box(A, 1000, "ADD base")
    one = m.ImageLayers("web:1", (base, box(B, 10, "COPY web")))
    two = m.ImageLayers("api:1", (base, box(C, 20, "COPY api")))
    src = d.shared_layers([one, two]).source
    assert src.count(A[:12]) == 1
    assert 'L0 [label="layer 1  diff ID aaaaaaaaaaaa\\nADD base\\n1 kB, read-only, shared by 2 images" fillcolor="#ffd966" ' \
           'penwidth=2' in src
    assert 'L1 [label="layer 2  diff ID bbbbbbbbbbbb\\nCOPY web\\n10 B, read-only" fillcolor="#dbe8f5" penwidth=1' in src
    assert 'L2 [label="layer 2  diff ID cccccccccccc\\nCOPY api\\n20 B, read-only" fillcolor="#dbe8f5"' in src
    assert 'I0 [label="image web:1\\n2 layers"' in src and 'I1 [label="image api:1\\n2 layers"' in src
    edges = re.findall(r"^\t(\w+) -> (\w+)", src, re.M)
    assert edges == [("I0", "L1"), ("L1", "L0"), ("I1", "L2"), ("L2", "L0")]
    assert d.shared_layers([one, two]).source == src


def test_mark_shared_uses_the_full_digest():
    x = m.ImageLayers("x", (box(A),))
    y = m.ImageLayers("y", (box(A), box(B)))
    z = m.ImageLayers("z", (box(C),))
    marked = m.mark_shared([x, y, z])
    assert [[b.shared for b in i.layers] for i in marked] == [[True], [True, False], [False]]


# --- containers -----------------------------------------------------------------------------------------

OPS = [m.ContainerOp("create", "/srv/x", 5),
       m.ContainerOp("copy-up", "/etc/hostname", 13, lower=0),
       m.ContainerOp("whiteout", "/etc/motd", lower=B[:12]),
       m.ContainerOp("opaque", "/var/cache/apt", lower=f"sha256:{B}"),
       m.ContainerOp("rename", "/srv/new", detail="from /srv/old", lower=1)]


def test_container_layers_draws_ops_in_the_rw_layer_with_edges_to_lower_files():
    src = d.container_layers(two_layer_image(), OPS, name="web1").source
    assert 'label="container web1\\nread-write layer (copy-on-write)"' in src
    assert 'op1 [label="1. create\\n/srv/x\\n5 B" fillcolor="#b6d7a8" style=filled]' in src
    assert 'op2 [label="2. copy-up\\n/etc/hostname\\n13 B" fillcolor="#f6b26b" style=filled]' in src
    assert 'op3 [label="3. whiteout\\n/etc/motd\\nmarker /etc/.wh.motd" fillcolor="#d9d9d9" ' \
           'style="filled,dashed"]' in src
    assert 'op4 [label="4. opaque\\n/var/cache/apt\\nmarker /var/cache/apt/.wh..wh..opq"' in src
    assert 'op5 [label="5. rename\\n/srv/new\\nfrom /srv/old"' in src
    # lower files live inside their layer's cluster
    l0 = src[src.index("subgraph cluster_L0"):]
    l1 = src[src.index("subgraph cluster_L1"):src.index("subgraph cluster_L0")]
    assert 'L0_f0 [label="/etc/hostname\\nstill here, read-only"' in l0
    assert 'L1_f1 [label="/etc/motd\\nstill here, read-only"' in l1
    assert 'L1_f2 [label="/var/cache/apt\\nstill here, read-only"' in l1
    assert 'L1_f3 [label="/srv/new\\nstill here, read-only"' in l1
    assert "\top2 -> L0_f0 [label=\"copied up from\" constraint=false style=solid]" in src
    assert "\top3 -> L1_f1 [label=hides constraint=false style=dashed]" in src
    assert "\top4 -> L1_f2 [label=\"hides the contents of\" constraint=false style=dashed]" in src
    assert "\top5 -> L1_f3 [label=\"renamed from\"" in src
    assert "\top5 -> L1 [style=invis]" in src and "\tL1 -> L0 [style=invis]" in src
    assert all(f"\top{n} -> op{n + 1} [style=invis]" in src for n in range(1, 5))  # steps stacked: narrow
    d.svg(src)


def test_container_layers_steps_empty_and_duck_typed_ops():
    img = two_layer_image()
    assert "op2" not in d.container_layers(img, OPS, upto=1).source
    empty = d.container_layers(img, []).source
    assert 'rw [label="empty\\nnothing written yet"' in empty and "op1" not in empty
    duck = [{"kind": "copy-up", "path": "/etc/hostname", "size": 13, "lower": 0},
            SimpleNamespace(kind="copy-up", path="/etc/hostname", size=13, detail="", lower=0)]
    src = d.container_layers(img, duck).source
    assert src.count("copy-up\\n/etc/hostname\\n13 B") == 2
    assert src.count("\t\t\tL0_f0 [label") == 1  # one lower file node, two edges to it
    assert "\top1 -> L0_f0 [" in src and "\top2 -> L0_f0 [" in src
    unknown = d.container_layers(img, [m.ContainerOp("mknod", "/dev/x")]).source
    assert 'op1 [label="1. mknod\\n/dev/x" fillcolor=white style=filled]' in unknown


@pytest.mark.parametrize("lower", [2, -1, "dddddddddddd", f"sha256:{'d' * 64}"])
def test_container_layers_rejects_an_unknown_lower_layer(lower):
    with pytest.raises(ValueError, match="no read-only layer"):
        d.container_layers(two_layer_image(), [m.ContainerOp("whiteout", "/x", lower=lower)])


def test_as_op_needs_kind_and_path():
    with pytest.raises(TypeError, match="needs a kind and a path"):
        m.as_op({"path": "/x"})


# --- metaphors and namespaces ---------------------------------------------------------------------------

def test_oop_metaphor_key_lines():
    src = d.oop_metaphor().source
    assert 'C0 [label="class CentOS\\nlayer 1: adds files\\na layer below"' in src
    assert 'C2 [label="class Tomcat(JRE)\\nlayer 3: adds files\\n= the image"' in src
    assert "\t\tC1 -> C0 [label=inherits arrowhead=empty]" in src
    assert 'O0 [label="c1 = Tomcat()\\na container = an instance' in src
    assert "\t\tO1 -> C2 [label=\"instance of\" style=dashed]" in src
    assert 'S [label="stencil = the image\\na read-only template"' in src
    assert "\t\tS -> P1 [label=\"docker run\"]" in src
    assert d.oop_metaphor().source == src


def test_namespaces_places_references():
    src = d.namespaces(["ubuntu", "busybox:1.36", "hcscompany/clock", "hcscompany/web",
                        "registry.example.com:5000/my-private/image", "localhost:5000/wordpress", "ubuntu",
                        "debian@sha256:" + A]).source
    official = src[src.index("cluster_official"):src.index("cluster_user")]
    user = src[src.index("cluster_user"):src.index("cluster_self")]
    self_hosted = src[src.index("cluster_self"):]
    assert 'o0 [label="ubuntu:latest\\ndocker.io/library/ubuntu:latest"' in official
    assert 'o1 [label="busybox:1.36\\ndocker.io/library/busybox:1.36"' in official
    assert f'o2 [label="debian@sha256:{A[:12]}...\\ndocker.io/library/debian@sha256:{A[:12]}..."' in official
    assert "o3" not in src  # ubuntu given twice, drawn once
    assert 'u0 [label="user hcscompany"' in user
    assert 'u0_0 [label="hcscompany/clock:latest\\ndocker.io/hcscompany/clock:latest"' in user
    assert 'u0_1 [label="hcscompany/web:latest' in user
    assert 'h0 [label="registry registry.example.com:5000"' in self_hosted
    assert 'h0_0 [label="registry.example.com:5000/my-private/image:latest"' in self_hosted
    assert 'h1 [label="registry localhost:5000"' in self_hosted
    for edge in ("hub -> o0", "hub -> u0", "u0 -> u0_1", "other -> h1", "h1 -> h1_0"):
        assert f"\t{edge}\n" in src


def test_namespaces_empty_groups_and_bad_references():
    src = d.namespaces(["ubuntu"]).source
    assert 'u_none [label="(none given)"' in src and 'h_none [label="(none given)"' in src
    with pytest.raises(InvalidReference):
        d.namespaces(["Ubuntu"])


# --- the HTTP conversation of a pull --------------------------------------------------------------------

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def hub_exchanges(blob_order=(C, A, B)) -> list[Exchange]:
    reg = "https://registry-1.docker.io:443"
    cdn = "https://cdn.example.com/blobs/"
    head = [
        Exchange("GET", f"{reg}/v2/", 401, {}, {"WWW-Authenticate": 'Bearer realm="https://auth.docker.io/token"'}),
        Exchange("GET", "https://auth.docker.io/token?scope=repository%3Alibrary%2Fdebian%3Apull&service=x", 200,
                 {"Authorization": "Basic <redacted>"}, {"Content-Type": "application/json"}),
        Exchange("HEAD", f"{reg}/v2/library/debian/manifests/jessie", 200, {},
                 {"Content-Type": INDEX, "Docker-Content-Digest": f"sha256:{'d' * 64}"}),
        Exchange("GET", f"{reg}/v2/library/debian/manifests/sha256:{'d' * 64}", 200, {}, {"Content-Type": INDEX}),
        Exchange("GET", f"{reg}/v2/library/debian/manifests/sha256:{'e' * 64}", 200, {}, {"Content-Type": MANIFEST}),
    ]
    blobs = {
        C: [Exchange("GET", f"{reg}/v2/library/debian/blobs/sha256:{C}", 200, {}, {"Content-Length": "1500"})],
        A: [Exchange("GET", f"{reg}/v2/library/debian/blobs/sha256:{A}", 307, {},
                     {"Location": f"{cdn}{A}?sig=<redacted>"}),
            Exchange("GET", f"{cdn}{A}?sig=<redacted>", 200, {}, {"Content-Length": "50000000"})],
        B: [Exchange("GET", f"{reg}/v2/library/debian/blobs/sha256:{B}", 200, {}, {"Content-Length": "2000"})],
    }
    return head + [ex for k in blob_order for ex in blobs[k]]


def message_labels(src: str) -> list[str]:
    return re.findall(r"^\tp\d+_\d+ -> p\d+_\d+ \[label=\"([^\"]*)\"", src, re.M)


def test_pull_sequence_labels_in_order():
    src = d.pull_sequence(hub_exchanges(), platform="linux/amd64", config_digest=f"sha256:{C}",
                          layer_order=[f"sha256:{A}", f"sha256:{B}"]).source
    assert message_labels(src) == [
        "GET /v2/  (ping: which auth?)",
        "401 Unauthorized: get a Bearer token",
        "GET /token?scope=repository:library/debian:pull  (ask for a token)",
        "200 OK: a token",
        "HEAD /v2/library/debian/manifests/jessie  (version check: no pull)",
        "200 OK: its digest (an index)",
        "GET /v2/library/debian/manifests/sha256:dddddddddddd...  (Docker Hub: pull 1)",
        "200 OK: an index (one manifest per platform)",
        "GET /v2/library/debian/manifests/sha256:eeeeeeeeeeee...  (Docker Hub: pull 1)",
        "200 OK: the image manifest (config + layers)",
        "GET /v2/library/debian/blobs/sha256:cccccccccccc...",
        "200 OK: the config (1.5 kB)",
        "GET /v2/library/debian/blobs/sha256:aaaaaaaaaaaa...",
        "307 Temporary Redirect: fetch it from blob storage",
        "GET /blobs/aaaaaaaaaaaa...  (follow the redirect)",
        "200 OK: a layer (50 MB)",
        "GET /v2/library/debian/blobs/sha256:bbbbbbbbbbbb...",
        "200 OK: a layer (2 kB)",
    ]
    assert 'label="choose a platform\\nfrom the index: linux/amd64" fillcolor="#fff2cc" shape=note' in src
    heads = re.findall(r'^\t\t(p\d) \[label="([^"]*)"', src, re.M)
    assert heads == [("p0", "client\\nlabkit"), ("p1", "registry\\nregistry-1.docker.io"),
                     ("p2", "token service\\nauth.docker.io"), ("p3", "blob storage\\ncdn.example.com")]
    # responses point back to the client, drawn left to right
    assert '\tp0_2 -> p1_2 [label="401 Unauthorized: get a Bearer token" constraint=false dir=back style=dashed]' in src
    assert ":443" not in src and "sig=" not in src and "service=" not in src and "redacted" not in src
    assert "blobs are fetched in parallel;\\ndrawn config first, then layer order" in src
    assert 'label="Docker Hub counts\\n1 pull"' in src
    # the index and the platform manifest chosen from it are one pull, the HEAD none; an up-to-date pull: 0
    assert "Docker Hub counts\\n0 pulls" in d.pull_sequence(hub_exchanges()[:3]).source
    assert "Docker Hub counts" not in d.pull_sequence(hub_exchanges(), hub_pulls=False).source


def test_pull_sequence_is_stable_when_parallel_blobs_arrive_in_any_order():
    kw = dict(config_digest=f"sha256:{C}", layer_order=[f"sha256:{A}", f"sha256:{B}"])
    sources = {d.pull_sequence(hub_exchanges(order), **kw).source
               for order in [(A, B, C), (B, C, A), (C, B, A)]}
    assert len(sources) == 1
    src = sources.pop()
    assert "blobs are fetched in parallel;\\ndrawn config first, then layer order" in src
    labels = message_labels(src)
    assert labels.index("200 OK: the config (1.5 kB)") < labels.index("200 OK: a layer (50 MB)") \
        < labels.index("200 OK: a layer (2 kB)")
    # without hints blobs still come out in one order (by digest), called blobs
    plain = {d.pull_sequence(hub_exchanges(order)).source for order in [(A, B, C), (C, B, A)]}
    assert len(plain) == 1 and "200 OK: a blob (2 kB)" in plain.pop()


def test_pull_sequence_host_alias():
    by_str = d.pull_sequence(hub_exchanges(), host_alias="registry.lab").source
    assert 'p1 [label="registry\\nregistry.lab"' in by_str and "registry-1.docker.io" not in by_str
    by_map = d.pull_sequence(hub_exchanges(), host_alias={"registry-1.docker.io:443": "hub",
                                                           "auth.docker.io": "auth"}).source
    assert 'p1 [label="registry\\nhub"' in by_map and 'p2 [label="token service\\nauth"' in by_map


def test_pull_sequence_of_a_real_pull_on_loopback(scripted_server, tmp_path):
    from labkit.pull import pull
    from helpers.scriptedserver import serve_image

    idx = factory.make_index()
    img = idx.image_for("linux/amd64")
    sources = []
    serve_image(scripted_server, "x", "v1", idx)
    for n in range(2):
        t = Trace()
        pull(Store(tmp_path / f"home{n}"), f"{scripted_server.host}/x:v1", trace=t, platform="linux/amd64")
        sources.append(d.pull_sequence(t, host_alias="registry.lab", platform="linux/amd64",
                                       config_digest=img.config_digest,
                                       layer_order=[lb.digest for lb in img.layers]).source)
    assert sources[0] == sources[1]
    src = sources[0]
    assert_no_leaks(src)
    assert str(scripted_server.port) not in src and "127.0.0.1" not in src
    labels = message_labels(src)
    assert labels[:4] == ["GET /v2/  (ping: which auth?)", "404 Not Found",
                          "HEAD /v2/x/manifests/v1  (version check: no pull)", "200 OK: its digest (an index)"]
    assert "200 OK: an index (one manifest per platform)" in labels
    assert f"GET /v2/x/manifests/sha256:{img.manifest_digest.short}...  (Docker Hub: pull 1)" in labels
    assert labels[-4:-2] == [f"GET /v2/x/blobs/sha256:{img.config_digest.short}...",
                             f"200 OK: the config ({d.human_size(len(img.config))})"]
    assert 'p1 [label="registry\\nregistry.lab"' in src


def test_pull_sequence_of_a_token_auth_pull_from_the_lab_registry(tmp_path):
    from labkit.pull import pull
    from labkit.registry.server import LabRegistry
    from helpers.registries import seed_lab_registry

    img = factory.make_image([{"hello.txt": b"hello lab\n"}])
    sources = []
    with LabRegistry(tmp_path / "reg", addr="127.0.0.1:0", auth="token") as reg:
        seed_lab_registry(reg, "library/debian:jessie", img)
        for n in range(2):
            t = Trace()
            pull(Store(tmp_path / f"home{n}"), f"{reg.host}:{reg.port}/library/debian:jessie", trace=t)
            sources.append(d.pull_sequence(t, host_alias="registry.lab", config_digest=img.config_digest,
                                           layer_order=[lb.digest for lb in img.layers]).source)
        port = str(reg.port)
    assert sources[0] == sources[1]
    src = sources[0]
    assert port not in src and "127.0.0.1" not in src
    labels = message_labels(src)
    # Docker's conversation: the ping's 401 only names the token service; one token, for the repository
    assert labels[:6] == ["GET /v2/  (ping: which auth?)", "401 Unauthorized: get a Bearer token",
                          "GET /token?scope=repository:library/debian:pull  (ask for a token)", "200 OK: a token",
                          "HEAD /v2/library/debian/manifests/jessie  (version check: no pull)",
                          "200 OK: its digest (a manifest)"]
    assert sum(label.startswith("GET /token") for label in labels) == 1
    assert labels[-2].startswith("GET /v2/library/debian/blobs/sha256:")
    assert labels[-1].startswith("200 OK: a layer (")
    assert 'p2 [label="token service\\nregistry.lab"' in src


# --- rendering and stability ----------------------------------------------------------------------------

def all_diagrams():
    img = two_layer_image()
    return [d.layer_stack(img), d.layer_stack_from_names(), d.shared_layers([img, img]),
            d.container_layers(img, OPS), d.oop_metaphor(), d.namespaces(),
            d.pull_sequence(hub_exchanges(), host_alias="registry.lab")]


def test_every_diagram_is_deterministic_and_leak_free():
    first = [g.source for g in all_diagrams()]
    random.seed(1)
    second = [g.source for g in all_diagrams()]
    assert first == second
    for src in first:
        assert_no_leaks(src, ports=False)


def test_svg_strips_the_version_comment_and_is_stable():
    g = d.layer_stack(two_layer_image())
    one, two = d.svg(g), d.svg(g)
    assert one == two
    assert one.lstrip().startswith("<?xml") and "<svg" in one
    assert "Generated by graphviz" not in one
    assert "layer 2 &#160;bbbbbbbbbbbb" in one or "bbbbbbbbbbbb" in one
    assert d.svg(g.source) == one  # DOT text works as well


def test_show_returns_an_svg_display_object():
    shown = d.show(d.layer_stack_from_names())
    assert type(shown).__name__ == "SVG"
    assert "CentOS" in shown.data and "Generated by graphviz" not in shown.data
    bundle = shown._repr_svg_()
    assert "0x" not in repr(type(shown)) and "CentOS" in bundle


@pytest.mark.parametrize("code", [
    "import labkit",
    "import labkit.lab; labkit.lab.Lab",
    "import labkit.viz, labkit.viz.models, labkit.viz.exercises",
    "from labkit.viz.exercises import Exercise, Feedback; Exercise('t', 'p', bool).check(1)",
])
def test_importing_labkit_does_not_import_graphviz_or_ipywidgets(code):
    probe = (f"{code}\nimport sys\n"
             "print(sorted(m for m in ('graphviz', 'ipywidgets', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_faces_does_import_them():
    probe = ("import sys, labkit.viz as v\nv.diagrams; v.widgets.reference_explorer()\n"
             "print(sorted(m for m in ('graphviz', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['graphviz', 'ipywidgets']"

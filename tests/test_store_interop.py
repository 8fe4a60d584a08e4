"""The store is a real OCI layout: skopeo writes into it and reads from it, umoci unpacks from it."""

from __future__ import annotations

import json
import urllib.request

import pytest

from labkit.oci import MANIFEST_ACCEPT
from labkit.store import Store

from helpers import imagefactory as f
from helpers.peers import run


@pytest.mark.interop("skopeo")
def test_skopeo_copies_into_the_store(store, tmp_path):
    mine = f.make_image([{"mine": b"1"}], created="2016-01-01T00:00:00Z")
    f.store_image(store, mine, "mine:1")
    img = f.make_image([{"etc/a": b"a" * 4000}, {"etc/b": b"b" * 9000}], created="2017-01-01T00:00:00Z")
    src = f.write_oci_dir(tmp_path / "src", img, "jessie")
    run("skopeo", "copy", f"oci:{src}:jessie", f"oci:{store.layout.root}:docker.io/library/debian:jessie")
    rows = [(r.repository, r.tag, r.image_id, r.size, r.digests) for r in store.images()]
    assert rows == [("debian", "jessie", img.config_digest, img.files_size, ()),
                    ("mine", "1", mine.config_digest, mine.files_size, (mine.manifest_digest,))]
    assert store.gc() == []
    # skopeo's other names: a bare ref.name is not a reference, so it lists as <none>
    run("skopeo", "copy", f"oci:{src}:jessie", f"oci:{store.layout.root}:foo")
    assert [(r.repository, r.tag) for r in store.images()] == [("debian", "jessie"), ("mine", "1")]
    assert store.rmi("debian:jessie")[-1] == f"Deleted: {img.config_digest}"


@pytest.mark.interop("skopeo")
def test_skopeo_copy_all_of_an_index_into_the_store(store, tmp_path):
    idx = f.make_index()
    src = f.write_oci_dir(tmp_path / "src", idx, "multi")
    run("skopeo", "copy", "--all", f"oci:{src}:multi", f"oci:{store.layout.root}:docker.io/library/multi:1")
    (rec,) = store.images()
    amd64 = idx.image_for("linux/amd64")
    assert (rec.repository, rec.tag, rec.image_id, rec.index_digest, rec.size) == (
        "multi", "1", amd64.config_digest, idx.digest, amd64.files_size)
    assert store.gc() == []


@pytest.mark.interop("docker-registry", "skopeo")
def test_skopeo_pushes_a_stored_image_unchanged(distribution_registry, store, tmp_path):
    img = f.make_image([{"a": b"1"}, {"b": b"2"}])
    f.store_image(store, img, "debian:jessie")
    host = distribution_registry.host
    run("skopeo", "copy", "--dest-tls-verify=false",
        f"oci:{store.layout.root}:docker.io/library/debian:jessie", f"docker://{host}/library/debian:jessie")
    req = urllib.request.Request(f"{distribution_registry.url}/v2/library/debian/manifests/jessie", method="HEAD",
                                 headers={"Accept": ", ".join(MANIFEST_ACCEPT)})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Docker-Content-Digest"] == str(img.manifest_digest)
    # and back: skopeo pulls it from the registry into a second store
    other = Store(tmp_path / "home2")
    other.home.mkdir()
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/library/debian:jessie",
        f"oci:{other.layout.root}:{host}/library/debian:jessie")
    (rec,) = other.images()
    assert (rec.repository, rec.manifest.digest, rec.size) == (f"{host}/library/debian", img.manifest_digest,
                                                               img.files_size)


@pytest.mark.interop("umoci")
def test_umoci_unpacks_a_stored_image(store, tmp_path):
    base = f.layer({"etc/os-release": b"ID=labkit\n"})
    img = f.make_image([base, {"app/hello.txt": b"hello\n"}])
    f.store_image(store, img, "localhost:5000/app:v1")
    entries = json.loads((store.layout.root / "index.json").read_text())["manifests"]
    assert entries[0]["annotations"]["org.opencontainers.image.ref.name"] == "localhost:5000/app:v1"
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--rootless", "--image", f"{store.layout.root}:localhost:5000/app:v1", str(bundle))
    assert (bundle / "rootfs" / "etc" / "os-release").read_bytes() == b"ID=labkit\n"
    assert (bundle / "rootfs" / "app" / "hello.txt").read_bytes() == b"hello\n"
    # umoci wrote nothing that labkit would not understand
    assert [(r.repository, r.tag) for r in store.images()] == [("localhost:5000/app", "v1")]

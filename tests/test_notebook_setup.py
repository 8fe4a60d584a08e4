"""labkit.notebook.setup: what every lab notebook runs first (fresh home, pinned clock, the lab registry)."""

from __future__ import annotations

import os
import socket

import pytest
import requests

import labkit.notebook as nb
from labkit import labctl
from labkit.home import load_settings
from labkit.labimages import LAB_NOW

from helpers.net import free_addr


@pytest.fixture
def base(labkit_home, monkeypatch):
    """The user's home; the lab registry's default address moved to a free port; everything stopped afterwards."""
    monkeypatch.setenv(labctl.ADDR_ENV, free_addr())  # the environment setup changes is restored by conftest
    yield labkit_home
    labctl.lab_down(labkit_home)


def test_setup_gives_a_fresh_home_with_the_lab_mirror_and_pinned_clock(base):
    lab = nb.setup("05", pull=["busybox"])
    assert lab.home == base / "notebooks" / "05"
    assert os.environ["LABKIT_HOME"] == str(lab.home) and os.environ["LABKIT_NOW"] == LAB_NOW
    assert load_settings(lab.home)["registry-mirrors"] == [nb.registry_url()]
    assert [r.repository for r in lab.images()] == ["busybox"]
    again = nb.setup("05")
    assert again.images() == []  # a rerun starts from a clean home


def test_notebooks_share_one_background_registry(base):
    first = nb.setup("01")
    pid = labctl.running(base)["pid"]
    second = nb.setup("02", pull=["debian:jessie"])
    assert labctl.running(base)["pid"] == pid
    assert first.home != second.home and [r.tag for r in second.images()] == ["jessie"]


def test_a_port_held_by_another_program_gives_this_home_a_registry_on_a_free_port(base, capsys):
    host, port = os.environ[labctl.ADDR_ENV].split(":")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((host, int(port)))
        squatter.listen(1)
        lab = nb.setup("03", pull=["busybox"])
        mirror = load_settings(lab.home)["registry-mirrors"][0]
        assert mirror == nb.registry_url() == labctl.running(base)["url"] != f"http://{host}:{port}"
        assert [r.repository for r in lab.images()] == ["busybox"]
    assert capsys.readouterr().err == (f"{host}:{port} is in use by another program: this home's lab registry "
                                       "takes a free port instead\n")


def test_a_registry_of_another_home_is_not_used(base, tmp_path):
    """Another user's lab registry on the default port (a shared host): this home's own answers instead."""
    other = tmp_path / "another-user"
    try:
        labctl.lab_up(other)
        nb.registry_url()
        lab = nb.setup("04")
        own = labctl.running(base)["url"]
        assert load_settings(lab.home)["registry-mirrors"] == [own] and own != labctl.running(other)["url"]
    finally:
        labctl.lab_down(other)


def test_versions_names_every_package():
    line = nb.versions()
    for name in ("labkit", "Python", "graphviz", "ipywidgets", "jupyterlab"):
        assert name in line


def test_another_home_is_on_the_same_lab_even_on_a_free_port(base, tmp_path, capsys):
    """A colleague's home (notebook 08) pushes to localhost:5000 and reaches this user's registry, also when
    that registry had to take a free port because the default address is another home's."""
    from labkit.push import push
    from labkit.registry import hosts

    other = tmp_path / "another-user"
    try:
        labctl.lab_up(other)  # holds the default address
        lab = nb.setup("08", pull=["busybox"])
        colleague = nb.another_home(lab, "colleague")
        assert load_settings(colleague.home) == load_settings(lab.home)
        name = labctl.default_names()[0]  # localhost:5000 in the lab (here the test's default port)
        assert (hosts.config_dir(colleague.home) / name / hosts.FILE).is_file()
        colleague.pull("busybox")
        colleague.tag("busybox", f"{name}/myapp:1")
        push(colleague.store, f"{name}/myapp:1")
        tags = requests.get(f"{nb.registry_url()}/v2/myapp/tags/list", timeout=5).json()["tags"]
        assert tags == ["1"]
    finally:
        labctl.lab_down(other)

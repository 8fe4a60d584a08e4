"""Binder: one click gives a working lab. repo2docker (what Binder runs) must use binder/'s files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import peers

ROOT = Path(__file__).resolve().parent.parent


def test_binder_environment_is_identical_to_the_top_level_one():
    # Binder reads only binder/ when it exists, so the conda route and Binder must not drift apart.
    assert (ROOT / "binder" / "environment.yml").read_bytes() == (ROOT / "environment.yml").read_bytes()


def test_binder_scripts_are_executable_and_start_the_lab():
    for name in ("postBuild", "start"):
        path = ROOT / "binder" / name
        assert path.stat().st_mode & 0o111, f"binder/{name} must be executable"
    start = (ROOT / "binder" / "start").read_text()
    assert "labkit lab up" in start and 'exec "$@"' in start
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_environment_lists_what_the_notebooks_import():
    env = (ROOT / "environment.yml").read_text()
    for package in ("python-graphviz", "graphviz", "ipywidgets", "jupyterlab", "requests", "zstandard"):
        assert f"- {package}" in env


@pytest.mark.interop("repo2docker")
def test_repo2docker_builds_from_binder_files(tmp_path):
    proc = subprocess.run([peers.executable("repo2docker"), "--no-build", "--debug", str(ROOT)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dockerfile = proc.stdout + proc.stderr
    assert 'binder/environment.yml' in dockerfile
    assert "./binder/postBuild" in dockerfile
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in dockerfile


def test_readme_badge_opens_start_here_in_jupyterlab():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/badge_logo.svg" in readme
    assert "urlpath=lab/tree/notebooks/00-start-here.ipynb" in readme

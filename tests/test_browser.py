"""A real browser: JupyterLab in headless Chromium runs the copy-on-write notebook and a student clicks a widget.

Recipe from shared/FACTS.md: Debian's chromium driven by Playwright (no browser download), windowing off so
every cell renders, a fresh HOME/JUPYTER/IPython dir per run. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers import peers
from helpers.net import free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02-images-and-containers.ipynb"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture
def jupyterlab(tmp_path):
    """Start JupyterLab on a copy of notebooks/ with a token; yield (base_url, token, root); stop it."""
    root = tmp_path / "nb"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
               JUPYTER_DATA_DIR=str(home / "jupyter-data"), JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
               IPYTHONDIR=str(home / "ipython"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               XDG_DATA_HOME=str(home / "xdg-data"), XDG_CACHE_HOME=str(home / "xdg-cache"),
               LABKIT_HOME=str(tmp_path / "labkit-home"))
    env.pop("LABKIT_NOTEBOOK_BASE", None)
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    app_settings = home / "lab-settings"
    app_settings.mkdir(parents=True)
    overrides = {
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    }
    (app_settings / "overrides.json").write_text(json.dumps(overrides))
    env["JUPYTERLAB_SETTINGS_DIR"] = str(home / "user-settings")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           # overrides.json in a private copy of the app settings: the venv's own stay untouched
           f"--LabApp.app_settings_dir={_app_dir_with(settings, app_settings)}"]
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/api/status", headers={"Authorization": f"token {token}"},
                                timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start: " + (tmp_path / "jupyter.log").read_text()[-3000:])
            time.sleep(0.3)
        yield base, token, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        from labkit.labctl import lab_down

        lab_down(tmp_path / "labkit-home")  # the lab registry the notebook's setup started in the background


def _app_dir_with(system_settings: Path, overrides_dir: Path) -> Path:
    """Return an app settings dir holding the system's settings plus our overrides.json."""
    if system_settings.is_dir():
        for item in system_settings.iterdir():
            if item.name != "overrides.json" and not (overrides_dir / item.name).exists():
                if item.is_dir():
                    shutil.copytree(item, overrides_dir / item.name)
                else:
                    shutil.copy2(item, overrides_dir / item.name)
    return overrides_dir


def test_copy_on_write_playground_in_a_real_browser(jupyterlab):
    from playwright.sync_api import expect, sync_playwright

    base, token, home = jupyterlab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(home / "chromium-profile"), executable_path=peers.executable("chromium"), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"], viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60000)
            panel = page.locator(".jp-NotebookPanel").first
            expect(panel).to_be_visible(timeout=60000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=90000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;"
                " if (k.status !== 'idle') return false;"
                " const cells = w.content.widgets.filter(c => c.model.type === 'code');"
                " return cells.every(c => c.model.executionCount !== null); }", timeout=120000)
            page.screenshot(path=str(ARTIFACTS / "browser-02-after-run-all.png"), full_page=False)
            assert panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                                 ).filter(has_text="Traceback").count() == 0
            playground = panel.locator(".labkit-playground").first
            playground.scroll_into_view_if_needed()
            expect(playground).to_be_visible(timeout=30000)
            svg = playground.locator(".jp-RenderedSVG img[src^='data:image/svg+xml'], img[src^='data:image/svg+xml'], svg").first
            expect(svg).to_be_visible(timeout=30000)
            before_log = playground.locator(".labkit-playground-log").inner_text()
            before_svg = playground.inner_html()
            playground.locator(".widget-button").filter(has_text="Apply").first.click()
            page.wait_for_function(
                "(before) => { const el = document.querySelector('.labkit-playground .labkit-playground-log');"
                " return el && el.innerText !== before; }", arg=before_log, timeout=30000)
            after_log = playground.locator(".labkit-playground-log").inner_text()
            assert after_log != before_log
            assert playground.inner_html() != before_svg  # the live diagram changed too
            page.screenshot(path=str(ARTIFACTS / "browser-02-after-click.png"), full_page=False)
            assert page.get_by_text("Error displaying widget").count() == 0
            # a live kernel shows the widgets themselves, never the text a saved notebook keeps for readers
            # without one (the display bundle's text/html fallback)
            expect(panel.locator(".labkit-exercise").first).to_be_visible(timeout=30000)
            assert panel.locator(".labkit-widget-fallback").count() == 0
        finally:
            context.close()

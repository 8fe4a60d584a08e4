"""A real browser: JupyterLab in headless Chromium runs every lab notebook as a student would.

For each numbered notebook: open it, run all cells, see no error output, see every widget render (never
"Error displaying widget", never the saved notebook's text fallback), then answer one exercise wrong and
then right and see the feedback change. The copy-on-write notebook also gets a click in its playground.

Debian's chromium driven by Playwright (no browser download), windowing off so every cell renders, a fresh
HOME/JUPYTER/IPython dir for the server; one JupyterLab and one browser serve the whole module, and each
notebook's kernel is shut down after it. Screenshots land in test-artifacts/.
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
from helpers.lessons import notebook_state
from helpers.net import free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02-images-and-containers.ipynb"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """Start JupyterLab on a copy of notebooks/ with a token; yield (base_url, token, home); stop it."""
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    root = tmp_path / "nb"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
               JUPYTER_DATA_DIR=str(home / "jupyter-data"), JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
               IPYTHONDIR=str(home / "ipython"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               XDG_DATA_HOME=str(home / "xdg-data"), XDG_CACHE_HOME=str(home / "xdg-cache"),
               LABKIT_HOME=str(tmp_path / "labkit-home"), LABKIT_OFFLINE="1")
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


@pytest.fixture(scope="module")
def browser(jupyterlab):
    """One headless Chromium for the module (a persistent profile in the server's private home)."""
    from playwright.sync_api import sync_playwright

    base, token, home = jupyterlab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(home / "chromium-profile"), executable_path=peers.executable("chromium"), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"], viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


def open_and_run_all(context, jupyterlab, name: str):
    """Open notebook `name`, run all its cells, wait until every code cell ran; return (page, panel)."""
    from playwright.sync_api import expect

    base, token, _home = jupyterlab
    page = context.new_page()
    # ?reset: a fresh workspace, so the notebook opened before is not restored beside this one
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60000)
    page.wait_for_function(
        "(name) => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.context && w.context.path.endsWith(name) && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'; }",
        arg=name, timeout=90000)
    panel = page.locator(f"#{page.evaluate('() => window.jupyterapp.shell.currentWidget.id')}")
    expect(panel).to_be_visible(timeout=60000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;"
        " if (k.status !== 'idle') return false;"
        " const cells = w.content.widgets.filter(c => c.model.type === 'code');"
        " return cells.every(c => c.model.executionCount !== null); }", timeout=180000)
    return page, panel


def shut_down_kernels(jupyterlab) -> None:
    """Delete every session (and its kernel): one notebook's kernel at a time on a 2-core machine."""
    base, token, _home = jupyterlab
    headers = {"Authorization": f"token {token}"}
    for session in requests.get(f"{base}/api/sessions", headers=headers, timeout=10).json():
        requests.delete(f"{base}/api/sessions/{session['id']}", headers=headers, timeout=30)


def saved_widget_count(name: str) -> int:
    """Return how many widget outputs the committed notebook holds (what a run must render again)."""
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    return sum(1 for c in cells for o in c.get("outputs", []) if WIDGET_MIME in o.get("data", {}))


def first_typed_lesson(name: str):
    """Return the first lesson with an answer field that notebook `name` shows, or None."""
    from labkit.lessons import lessons

    text = "\n".join("".join(c["source"]) for c in json.loads((ROOT / "notebooks" / name).read_text())["cells"])
    shown = [key for key, item in lessons().items() if f'"{key}"' in text and not item.state]
    return lessons()[min(shown, key=text.index)] if shown else None


@pytest.mark.parametrize("name", NOTEBOOKS, ids=[n[:-6] for n in NOTEBOOKS])
def test_each_notebook_runs_renders_and_answers_in_a_real_browser(name, jupyterlab, browser, lab):
    from playwright.sync_api import expect

    page, panel = open_and_run_all(browser, jupyterlab, name)
    try:
        errors = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.filter(has_text="Traceback").count() == 0
        # a widget view's output area has no data-mime-type (text, SVG and errors have theirs)
        widgets = panel.locator(".jp-OutputArea-output:not([data-mime-type])")
        expected = saved_widget_count(name)
        assert widgets.count() == expected, f"{name}: {widgets.count()} widgets shown, {expected} saved"
        for n in range(expected):
            view = widgets.nth(n)
            view.scroll_into_view_if_needed()
            expect(view.locator(".jupyter-widgets").first).to_be_visible(timeout=30000)
        assert page.get_by_text("Error displaying widget").count() == 0
        assert panel.locator(".labkit-widget-fallback").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"browser-{name[:2]}-after-run-all.png"), full_page=False)

        item = first_typed_lesson(name)
        if item is None:
            assert not name[:2] <= "09", f"{name} shows no exercise with an answer field"
            return
        notebook_state(lab, item.notebook)  # the same lab images: the same right and wrong answers
        (wrong, _word), right = item.wrong(lab)[0], item.answers(lab)[0]
        exercise = panel.locator(".labkit-exercise").filter(has_text=item.title).first
        exercise.scroll_into_view_if_needed()
        field = exercise.locator(".widget-text input").first
        feedback = exercise.locator(".labkit-feedback")
        for answer, mark in ((wrong, "Not yet"), (right, "Correct")):
            field.fill(answer)
            field.press("Enter")  # the Text widget sends its value on Enter (continuous_update=False)
            exercise.locator(".widget-button").filter(has_text="Check").first.click()
            expect(feedback).to_contain_text(mark, timeout=30000)
        assert exercise.locator(".labkit-feedback").inner_text().startswith("Correct")
        page.screenshot(path=str(ARTIFACTS / f"browser-{name[:2]}-answered.png"), full_page=False)
    finally:
        page.close()
        shut_down_kernels(jupyterlab)


def test_copy_on_write_playground_in_a_real_browser(jupyterlab, browser):
    from playwright.sync_api import expect

    page, panel = open_and_run_all(browser, jupyterlab, NOTEBOOK)
    try:
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
        page.close()
        shut_down_kernels(jupyterlab)

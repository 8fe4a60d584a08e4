"""Widgets driven in Python: set .value, click buttons, read the HTML/Label/IntProgress values."""

from __future__ import annotations

import re

import pytest

from labkit.errors import NotFound
from labkit.progress import (ALREADY_EXISTS, DOWNLOAD_COMPLETE, DOWNLOADING, EXTRACTING, PULL_COMPLETE,
                             PULLING_FS_LAYER, VERIFYING, LayerEvent, LayersEvent, MessageEvent)
from labkit.viz import widgets as wd

DIGEST = "sha256:72f784399fd2719b4cb4e16ef8e369a39dc67f53d978cd3e2e7bf4e502c7b793"


def rows(text: str) -> dict:
    return dict(wd.describe_reference(text))


@pytest.mark.parametrize("text, registry, kind, repository, tag, canonical, familiar, url", [
    ("ubuntu", "docker.io (Docker Hub)", "official", "library/ubuntu", "latest (none given, so the default is used)",
     "docker.io/library/ubuntu:latest", "ubuntu:latest",
     "https://registry-1.docker.io/v2/library/ubuntu/manifests/latest"),
    ("hcscompany/clock", "docker.io (Docker Hub)", "user", "hcscompany/clock",
     "latest (none given, so the default is used)", "docker.io/hcscompany/clock:latest", "hcscompany/clock:latest",
     "https://registry-1.docker.io/v2/hcscompany/clock/manifests/latest"),
    ("localhost:5000/wordpress", "localhost:5000", "self-hosted", "wordpress",
     "latest (none given, so the default is used)", "localhost:5000/wordpress:latest",
     "localhost:5000/wordpress:latest", "https://localhost:5000/v2/wordpress/manifests/latest"),
    ("test.com:5000", "docker.io (Docker Hub)", "official", "library/test.com", "5000",
     "docker.io/library/test.com:5000", "test.com:5000",
     "https://registry-1.docker.io/v2/library/test.com/manifests/5000"),
    ("Docker/docker", "Docker", "self-hosted", "docker", "latest (none given, so the default is used)",
     "Docker/docker:latest", "Docker/docker:latest", "https://Docker/v2/docker/manifests/latest"),
    ("registry.example.com:5000/my-private/image", "registry.example.com:5000", "self-hosted", "my-private/image",
     "latest (none given, so the default is used)", "registry.example.com:5000/my-private/image:latest",
     "registry.example.com:5000/my-private/image:latest",
     "https://registry.example.com:5000/v2/my-private/image/manifests/latest"),
    ("debian:jessie", "docker.io (Docker Hub)", "official", "library/debian", "jessie",
     "docker.io/library/debian:jessie", "debian:jessie",
     "https://registry-1.docker.io/v2/library/debian/manifests/jessie"),
])
def test_describe_reference(text, registry, kind, repository, tag, canonical, familiar, url):
    r = rows(text)
    assert r["registry"] == registry
    assert r["namespace"] == wd.NAMESPACE_WORDS[kind]
    assert (r["repository"], r["tag"], r["canonical"], r["familiar"], r["manifest URL"]) == \
        (repository, tag, canonical, familiar, url)
    assert r["why"]


def test_describe_reference_with_a_digest():
    r = rows(f"debian@{DIGEST}")
    assert "tag" not in r and r["digest"] == DIGEST
    assert r["manifest URL"] == f"https://registry-1.docker.io/v2/library/debian/manifests/{DIGEST}"
    both = rows(f"debian:jessie@{DIGEST}")
    assert both["tag"] == "jessie" and both["digest"] == f"{DIGEST} (wins over the tag)"
    assert both["manifest URL"].endswith(f"/manifests/{DIGEST}")


@pytest.mark.parametrize("text, why", [
    ("test.com:5000", "never a registry host, so the part after ':' is a tag ('5000')"),
    ("Docker/docker", "uppercase letter"),
    ("localhost:5000/wordpress", "'.' or ':'"),
    ("localhost/wordpress", "always a registry host"),
    ("hcscompany/clock", "Docker Hub user or organization"),
    ("ubuntu", "docker.io/library/ is added"),
    ("docker.io/ubuntu", "Docker Hub itself"),
])
def test_the_why_row_names_the_rule(text, why):
    assert why in rows(text)["why"]


def test_reference_explorer_updates_on_typing_and_on_examples():
    box = wd.reference_explorer()
    assert box.text.description == "Reference:" and box.examples.description == "Examples:"
    assert "Type an image reference" in box.result.value
    box.text.value = "hcscompany/clock"
    assert "<code>docker.io/hcscompany/clock:latest</code>" in box.result.value
    assert "https://registry-1.docker.io/v2/hcscompany/clock/manifests/latest" in box.result.value
    box.examples.value = "localhost:5000/wordpress"
    assert box.text.value == "localhost:5000/wordpress"
    assert "<code>https://localhost:5000/v2/wordpress/manifests/latest</code>" in box.result.value
    labels = [label for label, _ in box.examples.options]
    for example in ("localhost:5000/wordpress", "test.com:5000", "Docker/docker", "ubuntu", "hcscompany/clock",
                    "registry.example.com:5000/my-private/image", f"debian@{DIGEST}"):
        assert example in labels


@pytest.mark.parametrize("bad, message", [
    ("Ubuntu", 'invalid reference &quot;Ubuntu&quot;: repository name (library/Ubuntu) must be lowercase'),
    ("a/b:", "invalid tag ()"),
    ("debian@sha256:123", "digest (sha256:123) must be algorithm:hex"),
    ("a" * 64, "cannot be a 64-character hexadecimal string"),
])
def test_reference_explorer_shows_the_invalid_reference_message(bad, message):
    box = wd.reference_explorer(initial=bad)
    assert "labkit-error" in box.result.value and message in box.result.value
    assert "Traceback" not in box.result.value and "<table" not in box.result.value
    box.text.value = "   "
    assert "Type an image reference" in box.result.value


def test_reference_html_escapes():
    assert "<script>" not in wd.reference_html("<script>")


# --- tags -----------------------------------------------------------------------------------------------

def test_the_texts_seven_tag_scenarios():
    specify = {s.key: s.specify for s in wd.TAG_SCENARIOS}
    assert specify == {"rapid-testing": False, "experimenting": False, "want-latest": False, "script": True,
                       "production": True, "same-everywhere": True, "repeatability": True}


@pytest.mark.parametrize("scenario", wd.TAG_SCENARIOS, ids=lambda s: s.key)
def test_tag_scenarios_widget_explains_each_choice(scenario):
    box = wd.tag_scenarios()
    box.scenario.value = scenario.key
    right = box.specify_button if scenario.specify else box.leave_out_button
    wrong = box.leave_out_button if scenario.specify else box.specify_button
    right.click()
    assert f"Correct: {scenario.situation}" in box.feedback.value
    assert ("docker pull debian:jessie" if scenario.specify else "docker pull debian)") in box.feedback.value
    wrong.click()
    assert f"Not yet: {scenario.situation}: better to" in box.feedback.value
    box.scenario.value = next(s.key for s in wd.TAG_SCENARIOS if s.key != scenario.key)
    assert box.feedback.value == ""  # a new situation clears the old answer


def test_tag_advice_unknown_scenario():
    fb = wd.tag_advice("friday", True)
    assert not fb.ok and fb.message.startswith("unknown situation 'friday'")
    assert wd.tag_advice("production", True).ok and not wd.tag_advice("production", False).ok


# --- pull progress --------------------------------------------------------------------------------------

def test_pull_progress_bars_follow_the_events():
    pp = wd.pull_progress("debian:jessie")
    a, b = "6d827a3ef358", "aaaaaaaaaaaa"
    for ev in [MessageEvent("jessie: Pulling from library/debian", "pulling-from"),
               MessageEvent("Source: 127.0.0.1:5000", "source"),
               LayersEvent((a, b)),
               LayerEvent(b, ALREADY_EXISTS, final=True),
               LayerEvent(a, PULLING_FS_LAYER, 0, 1000),
               LayerEvent(a, DOWNLOADING, 400, 1000)]:
        pp(ev)
    assert list(pp.bars) == [a, b]
    assert pp.bars[a].description == a and (pp.bars[a].value, pp.bars[a].max) == (400, 1000)
    assert pp.bars[a].bar_style == "info" and pp.status(a) == DOWNLOADING
    assert pp.status(b) == ALREADY_EXISTS and pp.bars[b].bar_style == "success" and pp.bars[b].value == pp.bars[b].max
    for ev in [LayerEvent(a, VERIFYING, 1000, 1000), LayerEvent(a, DOWNLOAD_COMPLETE, 1000, 1000),
               LayerEvent(a, EXTRACTING, 0, 1000)]:
        pp(ev)
    assert pp.status(a) == EXTRACTING and pp.bars[a].value == 0 and pp.bars[a].bar_style == "warning"
    pp(LayerEvent(a, PULL_COMPLETE, 1000, 1000, final=True))
    pp(MessageEvent(f"Digest: {DIGEST}", "digest"))
    pp(MessageEvent("Status: Downloaded newer image for debian:jessie", "status"))
    assert pp.status(a) == PULL_COMPLETE and pp.bars[a].value == 1000 and pp.bars[a].bar_style == "success"
    assert pp.lines == ["jessie: Pulling from library/debian", f"Digest: {DIGEST}",
                        "Status: Downloaded newer image for debian:jessie"]
    assert "Source:" not in pp.log.value
    assert pp.status("nope") is None
    assert "debian:jessie" in pp.title.value
    # one row per layer: the bar (its description is the layer ID) and the status words beside it
    assert [tuple(type(c).__name__ for c in row.children) for row in pp.rows.children] == \
        [("IntProgress", "Label")] * 2


def test_pull_progress_no_extract_and_unknown_total():
    pp = wd.PullProgress()
    pp(LayerEvent("bbbbbbbbbbbb", DOWNLOADING, 5000, None))
    assert pp.bars["bbbbbbbbbbbb"].value == 1  # an unknown total: the bar stays at its max of 1
    pp(LayerEvent("bbbbbbbbbbbb", DOWNLOAD_COMPLETE, 5000, 5000, final=True))
    assert pp.bars["bbbbbbbbbbbb"].bar_style == "success" and pp.status("bbbbbbbbbbbb") == DOWNLOAD_COMPLETE


def test_pull_progress_fail_shows_one_line():
    pp = wd.PullProgress()
    pp.fail(NotFound("pull debian:jessi: manifest unknown (docker.io, 404 MANIFEST_UNKNOWN)\nbody"))
    assert pp.lines == ["Error: pull debian:jessi: manifest unknown (docker.io, 404 MANIFEST_UNKNOWN)"]


def test_pull_progress_with_a_real_pull(scripted_server, store):
    from helpers import imagefactory as factory
    from helpers.scriptedserver import serve_image
    from labkit.pull import pull

    img = factory.make_image([{"a.txt": b"a" * 5000}, {"b.txt": b"b" * 7000}])
    serve_image(scripted_server, "x", "v1", img)
    pp = wd.PullProgress()
    pull(store, f"{scripted_server.host}/x:v1", progress=pp)
    ids = [lb.digest.short for lb in img.layers]
    assert list(pp.bars) == ids
    for lid, lb in zip(ids, img.layers):
        assert pp.status(lid) == DOWNLOAD_COMPLETE
        assert pp.bars[lid].value == pp.bars[lid].max == lb.size
    assert pp.lines[0] == "v1: Pulling from x"
    assert re.fullmatch(r"Digest: sha256:[0-9a-f]{64}", pp.lines[1])


def test_widgets_are_displayable():
    pp = wd.PullProgress()
    bundle = pp._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --- what a saved notebook shows without a kernel -----------------------------------------------------------

def test_reference_explorer_fallback_shows_the_table_it_showed():
    bundle = wd.reference_explorer("localhost:5000/wordpress")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle      # the live view, unchanged
    text = bundle["text/plain"]
    assert text.splitlines()[0] == \
        "Reference explorer: how docker reads localhost:5000/wordpress \u2014 run this cell to use it"
    assert "canonical: localhost:5000/wordpress:latest" in text and "VBox" not in text
    assert "<code>localhost:5000/wordpress:latest</code>" in bundle["text/html"]
    assert bundle["text/html"].startswith("<div class='labkit-widget-fallback'><p><b>Reference explorer")
    bad = wd.reference_explorer("Ubuntu")._repr_mimebundle_()
    assert bad["text/plain"].splitlines()[1].startswith('Error: invalid reference "Ubuntu"')
    assert wd.reference_explorer()._repr_mimebundle_()["text/plain"] == \
        "Reference explorer \u2014 run this cell to use it"


def test_fallbacks_are_the_same_on_every_run():
    first = wd.tag_scenarios()._repr_mimebundle_()
    second = wd.tag_scenarios()._repr_mimebundle_()
    assert first["application/vnd.jupyter.widget-view+json"] != second["application/vnd.jupyter.widget-view+json"]
    assert (first["text/plain"], first["text/html"]) == (second["text/plain"], second["text/html"])
    assert first["text/plain"].startswith("Specify a tag or not? 7 situations to decide \u2014 run this cell")
    assert "- Going to production" in first["text/plain"]
    assert "leave the tag out" not in first["text/plain"]    # the answers stay in the live widget
    assert "0x" not in repr(wd.tag_scenarios()) and repr(wd.tag_scenarios()).startswith("<TagScenarios: ")


def test_tag_scenarios_methods_answer_without_buttons():
    box = wd.tag_scenarios()
    box.scenario.value = "production"
    assert box.specify().ok and not box.leave_out().ok
    assert "Not yet: Going to production" in box.feedback.value


def test_pull_progress_fallback_lists_dockers_lines():
    pp = wd.pull_progress("docker pull debian:jessie")
    pp(LayersEvent(("6d827a3ef358",)))
    pp(LayerEvent("6d827a3ef358", PULL_COMPLETE, 10, 10, final=True))
    pp(MessageEvent("Status: Downloaded newer image for debian:jessie", "status"))
    assert pp._repr_mimebundle_()["text/plain"] == (
        "Pull progress: docker pull debian:jessie \u2014 run this cell to use it\n"
        "6d827a3ef358: Pull complete\nStatus: Downloaded newer image for debian:jessie")

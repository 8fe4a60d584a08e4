"""The build diagram and playground: rows from a real build, DOT source, the widget driven with .click()."""

from __future__ import annotations

import io

from labkit.lessons.building import hello_context
from labkit.viz.building import (CONFIG, HIT, RAN, BuildPlayground, cache_diagram, context_files, show_build,
                                 step_rows, summary)


def test_rows_diagram_and_summary_of_a_rebuild(lab):
    ctx = hello_context(lab)
    lab.build(ctx, tags=["hello:1"])
    (ctx / "app.py").write_text("print(2)\n")
    result = lab.build(ctx, tags=["hello:2"])
    rows = step_rows(result)
    assert [(r.instruction.split()[0], r.status) for r in rows] == [
        ("FROM", HIT), ("WORKDIR", HIT), ("COPY", HIT), ("RUN", HIT), ("COPY", RAN), ("ENV", CONFIG),
        ("LABEL", CONFIG), ("CMD", CONFIG)]
    assert rows[4].layer == str(lab.store.config(lab.image("hello:2")).diff_ids[-1])
    assert summary(result) == "4 from the cache, 1 ran, 3 config only; ran: COPY app.py ."
    dot = cache_diagram(result).source
    assert "COPY app.py .\\nran: cache miss, new layer\\nlayer " in dot
    assert "ENV GREETING=hello\\nconfig only: no step, no layer" in dot
    assert dot.count("CACHED: cache hit, layer reused") == 4
    assert "0x" not in dot and str(lab.home) not in dot


def test_copy_from_is_an_edge_between_stages(lab, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox AS build\nRUN echo x > /x\nFROM scratch\nCOPY --from=build /x /x\n")
    dot = cache_diagram(lab.build(ctx)).source
    assert "cluster_0" in dot and "cluster_1" in dot and 'label="COPY --from"' in dot


def test_playground_saves_builds_and_reports(lab):
    ctx = hello_context(lab)
    assert context_files(ctx) == ["Dockerfile", "app.py", "requirements.txt"]
    play = BuildPlayground(lab, ctx, "play:1")
    play.build_button.click()
    assert "ran" in play.result.value and "<svg" in play.diagram.value
    assert "<code>[5/5] COPY app.py .</code> <b style='color:#7f4f00'>DONE</b>" in play.result.value
    play.file.value = "requirements.txt"
    play.text.value = "flask==3.1\n"
    play.build_button.click()
    assert (ctx / "requirements.txt").read_text() == "flask==3.1\n"
    assert "2 from the cache, 3 ran" in play.details()
    play.file.value = "Dockerfile"
    play.text.value = "FROM busybox\nRUN apt-get install python3\n"
    play.build_button.click()
    assert "exit code: 127" in play.result.value and play.diagram.value == ""
    assert play.describe() == "Build playground for hello (play:1)"


def test_show_build_prints_plain_output(lab):
    out = io.StringIO()
    result = show_build(lab, hello_context(lab), "hello:1", out=out)
    assert result is not None and "naming to docker.io/library/hello:1 done" in out.getvalue()
    ctx = hello_context(lab)
    (ctx / "Dockerfile").write_text("FORM busybox\n")
    out = io.StringIO()
    assert show_build(lab, ctx, out=out) is None and "unknown instruction: FORM" in out.getvalue()

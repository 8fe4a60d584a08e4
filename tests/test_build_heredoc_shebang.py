"""RUN with a single heredoc that starts with #!: BuildKit mounts it read-only at /dev/pipes/NAME (mode 0755)
and runs `/bin/sh -c /dev/pipes/NAME`, so the #! interpreter runs it (moby/buildkit
frontend/dockerfile/dockerfile2llb/convert.go dispatchRun, the BuildKit of Docker 29). labkit's shell runs
a shell interpreter; a missing one fails as the image's /bin/sh says (busybox ash: "NAME: not found", 127)."""

from __future__ import annotations

import pytest

from labkit.build.builder import BuildError
from labkit.build.events import Recorder


def _build(lab, tmp_path, dockerfile: str, tag: str = "doc:1"):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    rec = Recorder()
    try:
        lab.build(ctx, progress=rec, clock=lambda: 0.0, tags=[tag])
        return rec, None
    except BuildError as e:
        return rec, e.message


def _run_vertex(rec):
    return next(v for v in rec.vertices() if "RUN" in v.name)


def test_a_shell_shebang_runs_the_document_as_a_mounted_script(lab, tmp_path):
    lab.pull("busybox")
    rec, error = _build(lab, tmp_path, 'FROM busybox\nRUN <<EOF\n#!/bin/sh\necho "I am $0"\necho hi > /hi.txt\nEOF\n')
    assert error is None
    v = _run_vertex(rec)
    assert v.name == "[2/2] RUN <<EOF (#!/bin/sh...)"
    assert [log.text for log in v.logs] == ["I am /dev/pipes/EOF"]
    view = lab.view("doc:1")
    assert view.read("hi.txt") == b"hi\n"
    assert view.lookup("dev/pipes") is None                        # a mount: not in the layer
    history = lab.store.config(lab.image("doc:1")).history[-1]
    assert history["created_by"] == "RUN /bin/sh -c /dev/pipes/EOF # buildkit"


def test_another_interpreter_fails_as_a_missing_program(lab, tmp_path):
    lab.pull("busybox")
    rec, error = _build(lab, tmp_path, 'FROM busybox\nRUN <<EOF\n#!/usr/bin/python3\nprint("hi")\nEOF\n')
    assert error == 'process "/bin/sh -c /dev/pipes/EOF" did not complete successfully: exit code: 127'
    assert [log.text for log in _run_vertex(rec).logs] == ["/bin/sh: /dev/pipes/EOF: not found"]
    rec, error = _build(lab, tmp_path, 'FROM busybox\nRUN <<EOF\n#!/bin/env python3\nprint("hi")\nEOF\n')
    assert error == 'process "/bin/sh -c /dev/pipes/EOF" did not complete successfully: exit code: 127'
    assert "python3" in _run_vertex(rec).logs[0].text                # env: the interpreter is missing


def test_without_shebang_the_document_is_the_shell_command(lab, tmp_path):
    lab.pull("busybox")
    rec, error = _build(lab, tmp_path, "FROM busybox\nRUN <<EOF\necho plain\nEOF\n")
    assert error is None and [log.text for log in _run_vertex(rec).logs] == ["plain"]
    history = lab.store.config(lab.image("doc:1")).history[-1]
    assert history["created_by"] == "RUN /bin/sh -c echo plain\n # buildkit"      # the document as is

"""10 · Building images: the build cache, ordering a Dockerfile, multi-stage images, secrets in layers.

The notebook's build contexts are made here too (`hello_context`, `reorder_context`, `fat_context`), so the
notebook and the checkers agree on them. The checkers build for real: the reorder exercise builds the
student's Dockerfile twice (the second time with a changed app.py, in a copy of the context) and looks at
which steps re-ran; the multi-stage one measures the image.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from ..errors import LabkitError
from ..formatting import human_size
from .base import Feedback, Lesson, empty, parse_number, yes_no

APP_PY = 'print("Hello from a built image")\n'
REQUIREMENTS = "flask==3.0\nrequests==2.31\n"
HELLO_DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN mkdir -p /opt/deps && cp requirements.txt /opt/deps/ && echo "dependencies installed" > /opt/deps/log
COPY app.py .
ENV GREETING=hello
LABEL org.opencontainers.image.title="hello"
CMD ["cat", "/app/app.py"]
"""
REORDER_DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY . .
RUN mkdir -p /opt/deps && cp requirements.txt /opt/deps/ && echo "dependencies installed" > /opt/deps/log
CMD ["cat", "/app/app.py"]
"""
FAT_DOCKERFILE = """\
FROM busybox
COPY toolchain/ /opt/toolchain/
COPY src/ /src/
RUN mkdir -p /app && cp /src/hello.c /app/hello && chmod 755 /app/hello
CMD ["/app/hello"]
"""
TOOLCHAIN_SIZE = 2_000_000
FAT, SMALL = "hello:fat", "hello:small"


def _write(root: Path, files: dict) -> Path:
    """Write `files` ({relative name: text or bytes}) as a fresh folder `root`; return it.

    Modes are set, not left to the umask: COPY keeps a context file's mode, and the image IDs the notebook
    shows must be the same for every user (a umask of 002 makes 0o664 files) and in the browser (Pyodide
    has no umask: its files are created 0o666, its folders 0o777)."""
    if root.exists():
        shutil.rmtree(root)
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        p.chmod(0o644)
    for folder in {root, *(p for name in files for p in (root / name).parents if root in p.parents)}:
        folder.chmod(0o755)
    return root


def contexts_dir(lab) -> Path:
    """Return the folder under the notebook's home where its build contexts live."""
    return Path(lab.home) / "contexts"


def hello_context(lab) -> Path:
    """Write the tiny app (app.py, requirements.txt, a well-ordered Dockerfile); return its folder."""
    return _write(contexts_dir(lab) / "hello", {"Dockerfile": HELLO_DOCKERFILE, "app.py": APP_PY,
                                               "requirements.txt": REQUIREMENTS})


def reorder_context(lab) -> Path:
    """Write the exercise's context: the same app, with `COPY . .` before the dependency step."""
    return _write(contexts_dir(lab) / "reorder", {"Dockerfile": REORDER_DOCKERFILE, "app.py": APP_PY,
                                                 "requirements.txt": REQUIREMENTS})


def fat_context(lab) -> Path:
    """Write a context whose image carries a 2 MB "toolchain" it needs only to build the app."""
    toolchain = bytes((i * 7919) % 251 for i in range(TOOLCHAIN_SIZE))
    return _write(contexts_dir(lab) / "fat", {"Dockerfile": FAT_DOCKERFILE, "toolchain/cc": toolchain,
                                             "src/hello.c": "#!/bin/sh\necho hello, small world\n"})


# --- 10-cache-predict ------------------------------------------------------------------------------------------

def steps_rerun(lab, context: Path, change: str = "app.py"):
    """Build a copy of `context`, change one file, build again; return (the steps that re-ran, the second
    build's BuildResult). The copy lives under the home's checks/ folder: the student's files stay as they are."""
    from ..build.builder import BuildError

    scratch = Path(lab.home) / "checks" / "build" / context.name
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(context, scratch)
    try:
        lab.build(scratch)
        # a change never made before: an earlier check's cache must not answer for this one
        (scratch / change).write_text((scratch / change).read_text() + f"# changed {secrets.token_hex(8)}\n")
        result = lab.build(scratch)
    except BuildError as e:
        raise LabkitError(f"the Dockerfile does not build: {e.message}") from None
    return [s for s in result.steps if not s.cached], result


def predicted(lab) -> int:
    """Return how many steps of the hello app re-run after a change to app.py (measured by building)."""
    ctx = _write(Path(lab.home) / "checks" / "hello", {"Dockerfile": HELLO_DOCKERFILE, "app.py": APP_PY,
                                                                 "requirements.txt": REQUIREMENTS})
    return len(steps_rerun(lab, ctx)[0])


def check_predict(lab, answer) -> Feedback:
    n = parse_number(answer, ("steps", "step"))
    if n is None:
        return empty("a number of steps, e.g. 3")
    want = predicted(lab)
    if n == want:
        return Feedback(True, f"{want}: `COPY app.py .` sees a new checksum and runs again, and so does every "
                              "step after it in its stage; the steps before it (FROM, WORKDIR, the dependency "
                              "RUN) come from the cache. ENV, LABEL and CMD are no steps at all: they only "
                              "change the image's config.")
    if n > want:
        return Feedback(False, f"{n} counts steps before the change, or the config-only lines: a changed file "
                               "re-runs the COPY that reads it and the steps after it, never the steps before "
                               "(their inputs did not change); ENV, LABEL and CMD make no step.")
    return Feedback(False, f"{n} is too few: the COPY that reads app.py must run again (its checksum changed), "
                           "and so must every later step of the stage.")


# --- 10-reorder ---------------------------------------------------------------------------------------------

def reorder_dir(lab) -> Path:
    return contexts_dir(lab) / "reorder"


def check_reorder(lab, _answer=None) -> Feedback:
    ctx = reorder_dir(lab)
    if not (ctx / "Dockerfile").is_file():
        return Feedback(False, "run the cell that makes the exercise's folder first (reorder_context(lab)).")
    try:
        reran, result = steps_rerun(lab, ctx)
    except LabkitError as e:
        return Feedback(False, str(e))
    runs = [s for s in reran if s.kind == "run"]
    image = lab.view(result.record)
    if image.lookup("opt/deps/requirements.txt") is None:
        return Feedback(False, "the image no longer installs the dependencies (/opt/deps is missing): "
                               "keep the RUN step, move the COPY instead.")
    if image.lookup("app/app.py") is None:
        return Feedback(False, "the image has no /app/app.py any more: the app must still be copied in.")
    if runs:
        return Feedback(False, f"changing app.py re-ran `{runs[0].instruction}`: it comes after a COPY that "
                               "reads app.py (COPY . . reads every file), whose checksum changed, so the cache "
                               "stops there. Copy requirements.txt alone first, run the install, then copy the "
                               "rest.")
    return Feedback(True, f"changing app.py now re-runs {len(reran)} step(s), and the dependency step comes from "
                          "the cache: the files it needs are copied before it, the ones that change often after.")


REORDER_SOLUTION = """\
Copy what the install needs alone, install, then copy the rest:
    COPY requirements.txt .
    (the dependency RUN, unchanged)
    COPY . .
A change to app.py then changes only the last COPY's checksum."""


def do_reorder(lab) -> None:
    """Do what the exercise asks (tests use it to see the checker accept the real result)."""
    (reorder_dir(lab) / "Dockerfile").write_text(HELLO_DOCKERFILE.replace("COPY app.py .", "COPY . ."))


# --- 10-multi-stage ------------------------------------------------------------------------------------------

def check_multi_stage(lab, _answer=None) -> Feedback:
    try:
        small = lab.image(SMALL)
    except LabkitError:
        return Feedback(False, f"there is no image {SMALL} yet: build it from your Dockerfile.small "
                               f"(%docker build -t {SMALL} -f Dockerfile.small ...).")
    view = lab.view(small)
    if view.lookup("app/hello") is None:
        return Feedback(False, f"{SMALL} has no /app/hello: copy the built program from the build stage "
                               "(COPY --from=STAGE /app/hello /app/hello).")
    if view.lookup("opt/toolchain/cc") is not None or view.lookup("src") is not None:
        return Feedback(False, f"{SMALL} still holds the toolchain or the sources: the final stage must start "
                               "FROM a fresh base and copy only the result.")
    size = lab.store.image_size(small)
    try:
        fat = lab.store.image_size(lab.image(FAT))
    except LabkitError:
        fat = size + TOOLCHAIN_SIZE
    layers = lab.store.manifest(small).layers
    if size > fat - TOOLCHAIN_SIZE * 0.9:
        return Feedback(False, f"{SMALL} is {human_size(size)}: a file deleted in a later layer still weighs in "
                               "the image (its lower layer keeps it). Leave the toolchain in a build stage.")
    return Feedback(True, f"{SMALL} is {human_size(size)} ({len(layers)} layers), {FAT} {human_size(fat)}: the "
                          "toolchain stayed in the build stage, which is not part of the final image.")


SMALL_DOCKERFILE = """\
FROM busybox AS build
COPY toolchain/ /opt/toolchain/
COPY src/ /src/
RUN mkdir -p /app && cp /src/hello.c /app/hello && chmod 755 /app/hello

FROM busybox
COPY --from=build /app/hello /app/hello
CMD ["/app/hello"]
"""


MULTI_STAGE_SOLUTION = """\
Two stages: the build stage holds the toolchain, the final one only the result.
    FROM busybox AS build
    (the toolchain and source COPY lines, and the RUN that makes /app/hello)
    FROM busybox
    COPY --from=build /app/hello /app/hello
    CMD ["/app/hello"]
Then: docker build -t hello:small -f Dockerfile.small ."""


def do_multi_stage(lab) -> None:
    """Do what the exercise asks (tests use it to see the checker accept the real result)."""
    ctx = contexts_dir(lab) / "fat"
    (ctx / "Dockerfile.small").write_text(SMALL_DOCKERFILE)
    lab.build(ctx, tags=[SMALL], dockerfile=ctx / "Dockerfile.small")


# --- 10-secret-layer -------------------------------------------------------------------------------------------

def check_secret(lab, answer) -> Feedback:
    said = yes_no(answer)
    if said is None:
        return empty("yes or no")
    if said:
        return Feedback(True, "yes: the COPY's layer holds secret.txt; the RUN rm only adds a whiteout in a later "
                              "layer, which hides the file from containers. Anyone with the image can open the "
                              "lower layer and read it.")
    return Feedback(False, "no is what the container shows, not what the image holds: a later layer's whiteout "
                           "hides the file, but the layer of the COPY still has it, and `docker save` or a pull "
                           "hands that layer to anyone.")


LESSONS = [
    Lesson("10-cache-predict", "Predict: what does the cache re-run?",
           "In the hello app, you change app.py and build again. How many steps will run (not come from the "
           "cache)?", check_predict,
           solution=lambda lab: f"{predicted(lab)}: the COPY that reads app.py, and every step after it.",
           answers=lambda lab: (str(predicted(lab)),), wrong=lambda lab: (("7", "never the steps before"),
                                                                            ("0", "too few")),
           placeholder="a number of steps"),
    Lesson("10-reorder", "Reorder a Dockerfile",
           "Change contexts/reorder/Dockerfile so that a change to app.py does not re-run the dependency step.",
           check_reorder, solution=lambda lab: REORDER_SOLUTION,
           state=True, task=do_reorder),
    Lesson("10-multi-stage", "Shrink an image with a build stage",
           f"Write contexts/fat/Dockerfile.small so that {SMALL} has /app/hello but not the 2 MB toolchain.",
           check_multi_stage, solution=lambda lab: MULTI_STAGE_SOLUTION, state=True, task=do_multi_stage),
    Lesson("10-secret-layer", "Is the secret still in the image?",
           "A Dockerfile copies secret.txt and removes it in the next RUN. Is the secret in the image?",
           check_secret, solution=lambda lab: "yes: in the lower layer the COPY made",
           answers=lambda lab: ("yes",), wrong=lambda lab: (("no", "whiteout"),), placeholder="yes or no"),
]

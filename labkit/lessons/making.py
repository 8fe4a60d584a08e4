"""03 · Making images: one more layer on top of your own image, and where a deleted secret stays."""

from __future__ import annotations

from ..errors import LabkitError
from .base import Feedback, Lesson, empty, parse_number

BASE, TARGET, FILE = "myubuntu:v1", "myubuntu:v2", "opt/hello/VERSION"


def committed_layers(lab) -> int:
    """Return the layers `docker commit` of a changed ubuntu container gives: ubuntu's, plus one."""
    return len(lab.store.manifest(lab.image("ubuntu")).layers) + 1


def check_commit_layers(lab, answer) -> Feedback:
    n = parse_number(answer, words=("layers", "layer"))
    if n is None:
        return empty("a number of layers")
    want = committed_layers(lab)
    if n == want:
        return Feedback(True, f"{want}: ubuntu's {want - 1} layers, shared as they are, plus one new layer holding "
                              "what the container changed.")
    if n == 1:
        return Feedback(False, "1 assumes the new image stands alone. A commit keeps every layer of the image the "
                               "container came from and adds one on top: the changes.")
    if n == want - 1:
        return Feedback(False, f"{n} is ubuntu's own count: that assumes the changes go into ubuntu's layers. "
                               "Read-only layers never change; a commit adds a layer.")
    if n > want:
        return Feedback(False, f"{n}: one layer per command typed in the container? A commit saves the "
                               "read-write layer as it is now: one layer, however many commands made it.")
    return Feedback(False, f"{n}: count ubuntu's layers (docker history, or the diagram), then what a commit adds.")


def check_one_more_layer(lab, answer) -> Feedback:
    name = str(answer or "").strip()
    if not name:
        return empty(f"the name of your new image, e.g. {TARGET}")
    try:
        image = lab.image(name)
    except LabkitError:
        return Feedback(False, f"there is no image {name} on this host yet: commit your container as {name} "
                               f"(%docker commit CONTAINER {name}).")
    layers = lab.store.manifest(image).layers
    base_layers = lab.store.manifest(lab.image(BASE)).layers
    wanted = len(base_layers) + 1
    if len(layers) != wanted:
        if len(layers) > wanted:
            return Feedback(False, f"{name} has {len(layers)} layers; {BASE} has {len(base_layers)}: each commit "
                                   "adds one layer, so commit once, after all the changes.")
        return Feedback(False, f"{name} has {len(layers)} layers, not {wanted}: a new image keeps every layer of "
                               f"the image its container came from; start the container from {BASE}.")
    if list(layers[:-1]) != list(base_layers):
        return Feedback(False, f"{name} has {wanted} layers, but its lower ones are not {BASE}'s: start the "
                               f"container from {BASE}, not from ubuntu.")
    view = lab.view(name)
    if view.lookup(FILE) is None:
        return Feedback(False, f"{name} has the right layers but no /{FILE}: write it in the container before "
                               "committing (the commit saves only what the container changed).")
    content = view.read(FILE).decode().strip()
    if content != "2":
        return Feedback(False, f"/{FILE} holds {content!r}; the task asks for 2.")
    return Feedback(True, f"{name} is {BASE}'s {len(base_layers)} layers, shared and not copied, plus your "
                          f"layer with /{FILE}.")


def make_v2(lab) -> None:
    """Do what the task asks (tests use it to see the checker accept the real result)."""
    from ..shell import run

    container = lab.create(BASE, name="v2")
    run(container, f"echo 2 > /{FILE}")
    lab.commit(container, TARGET)


LESSONS = [
    Lesson("03-commit-layers", "Predict: how many layers after a commit?",
           "builder changed three things in its ubuntu container. How many layers will myubuntu:v1 have?",
           check_commit_layers,
           solution=lambda lab: f"{committed_layers(lab)}: ubuntu's layers plus one with all the changes.",
           answers=lambda lab: (str(committed_layers(lab)),),
           wrong=lambda lab: (("1", "stands alone"), (str(committed_layers(lab) - 1), "never change"),
                              (str(committed_layers(lab) + 3), "read-write layer")),
           placeholder="a number"),
    Lesson("03-one-more-layer", "One more layer",
           f"Make {TARGET}: {BASE} plus one layer in which /{FILE} holds 2. Type its name.",
           check_one_more_layer,
           solution=lambda lab: f"%docker run -d --name v2 {BASE}\n%docker exec v2 sh -c \"echo 2 > /{FILE}\"\n"
                                f"%docker commit v2 {TARGET}",
           answers=lambda lab: (TARGET,), wrong=lambda lab: (("ubuntu", "layer"), (BASE, "layers")),
           placeholder=TARGET, task=make_v2),
]

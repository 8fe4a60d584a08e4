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


# --- a deleted secret ------------------------------------------------------------------------------------

SECRET_IMAGE, SECRET_PATH = "leaky:2", "root/.aws/credentials"


def secret_layer(lab, image: str = SECRET_IMAGE) -> "tuple[int, int]":
    """Return (index of the layer that added SECRET_PATH, index of the layer that deleted it) in `image`."""
    from ..layerchanges import layer_changes

    view = lab.view(image)
    added = removed = -1
    for i in range(len(view.layer_trees)):
        for change in layer_changes(view, i):
            if change.path.strip("/") == SECRET_PATH:
                if change.kind == "removed":
                    removed = i
                else:
                    added = i
    if added < 0:
        raise LookupError(f"{image} never held /{SECRET_PATH}: run the cells that build it first")
    return added, removed


def check_secret(lab, answer) -> Feedback:
    added, removed = secret_layer(lab)
    text = str(answer or "").strip().lower()
    if text in ("none", "no layer", "nowhere", "0", "gone"):
        return Feedback(False, "that assumes `rm` in a later commit removes the file from the image. It only adds a "
                               f"whiteout in layer {removed + 1}; the bytes stay in the layer that added them, and "
                               "anyone who pulls the image can read that layer's tar.")
    n = parse_number(answer)
    if n is None:
        return empty("a layer number")
    if n == added + 1:
        return Feedback(True, f"layer {n}: the commit that added the credentials. The image still ships them; "
                              "revoke the key, and never put secrets in a layer (build secrets, or mounts).")
    if n == removed + 1:
        return Feedback(False, f"layer {n} is the commit that deleted it: it holds a whiteout, an empty marker, not "
                               "the secret. Where was the file added?")
    return Feedback(False, f"layer {n} never touched /{SECRET_PATH}: look for the layer whose changes add it.")


LESSONS.append(
    Lesson("03-deleted-secret", "Find the deleted secret",
           f"{SECRET_IMAGE} no longer shows /{SECRET_PATH}. Which of its layers still holds the file?",
           check_secret,
           solution=lambda lab: "Layer {}: it added the file; layer {} only hides it with a whiteout.".format(
               *(i + 1 for i in secret_layer(lab))),
           answers=lambda lab: (str(secret_layer(lab)[0] + 1),),
           wrong=lambda lab: ((str(secret_layer(lab)[1] + 1), "whiteout"), ("none", "removes")),
           placeholder="a layer number"))

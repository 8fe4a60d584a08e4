"""09 · Summary: one prediction or decision per objective of the lab, each checked on the lab's images."""

from __future__ import annotations

from ..formatting import human_size
from ..reference import Reference
from .base import Feedback, Lesson, close_to, empty, parse_number, parse_size, words
from .image import holders
from .pulling import pull_digest

HUB_NAMES = ("docker.io", "docker hub", "dockerhub", "hub.docker.com", "registry-1.docker.io", "index.docker.io")


# --- images: two stores, two IMAGE IDs; only one of them pins ---------------------------------------------

_HEX = set("0123456789abcdef")
_DOCKER29 = ("docker 29", "29", "containerd", "docker 29's", "today's docker", "the containerd store")
_LAB_TEXT = ("lab text", "the lab text's", "lab text's", "graphdriver", "the lab text's docker", "overlay2")


def _which_id(lab, answer) -> "str | None":
    """Return "containerd", "graphdriver", "both", "neither", "other id" or None for what a student typed: a
    Docker's name, or an ID (12 hex digits or more, with or without sha256:)."""
    text = words(answer).removeprefix("ubuntu@").removeprefix("sha256:").strip(" .")
    if len(text) >= 12 and set(text) <= _HEX:
        record = lab.image("ubuntu")
        return ("containerd" if record.target.hex.startswith(text) else
                "graphdriver" if record.image_id.hex.startswith(text) else "other id")
    if text in ("both", "either", "any"):
        return "both"
    if text in ("neither", "none"):
        return "neither"
    if text in _DOCKER29 or text.startswith("docker 29"):
        return "containerd"
    if text in _LAB_TEXT or text.startswith("the lab text") or text.startswith("lab text"):
        return "graphdriver"
    return None


def check_id_to_pin(lab, answer) -> Feedback:
    if not words(answer):
        return empty("Docker 29, the lab text's, or the ID itself")
    which = _which_id(lab, answer)
    record = lab.image("ubuntu")
    pinned, config = pull_digest(record).hex[:12], record.image_id.hex[:12]
    if which == "containerd":
        return Feedback(True, f"Docker 29's ({pinned}): its containerd store shows the digest of what was pulled, "
                              "the Digest: line, which is the name a registry knows the image by. The lab text's "
                              f"Docker shows the config's digest ({config}): the same image, but a registry has no "
                              "manifest by that digest, so it cannot pin a pull. Both are digests, of different "
                              "documents.")
    if which in ("graphdriver", "both"):
        return Feedback(False, f"the lab text's IMAGE ID ({config}) is the digest of the image's config, a blob "
                               "inside the image. A registry serves manifests and indexes by digest, not configs: "
                               "`docker pull ubuntu@sha256:<config digest>` finds no manifest. Which ID is the "
                               "Digest: line of the pull?")
    if which == "other id":
        return Feedback(False, "that ID is neither of ubuntu's two: copy one from the cell above.")
    if which == "neither":
        return Feedback(False, "that assumes an IMAGE ID is only a local number. Both IDs are digests; one of them "
                               "is the digest of what the pull fetched (its Digest: line). Which?")
    return Feedback(False, f"{answer!s}: answer Docker 29, the lab text's, or type the ID from the cell above.")


# --- layers: deleted bytes still count ---------------------------------------------------------------------

def deleted_bytes(lab) -> int:
    from ..layerchanges import layer_changes

    view = lab.view("ubuntu")
    k, _ = holders(view)
    return sum(c.size for c in layer_changes(view, k))


def check_deleted_size(lab, answer) -> Feedback:
    size = parse_size(answer)
    if size is None:
        return empty("a size such as 100 kB")
    want = deleted_bytes(lab)
    if close_to(size, want):
        return Feedback(True, f"{human_size(want)}: all of it. The files are hidden, not removed: their bytes stay "
                              "in the lower layer and count in SIZE.")
    if size == 0:
        return Feedback(False, "0 assumes a deletion in a later layer frees the bytes. Layers below never change: "
                               "the deleting layer only adds whiteouts.")
    return Feedback(False, f"{human_size(size)}: how big were the files the whiteouts hide?")


# --- namespaces ------------------------------------------------------------------------------------------

def check_registry_of(lab, answer) -> Feedback:
    text = words(answer)
    if not text:
        return empty("a registry host")
    domain = Reference.parse("hcscompany/clock").domain
    if text in HUB_NAMES:
        return Feedback(True, f"{domain}, Docker Hub: hcscompany is an account there, clock its image.")
    if text.startswith("hcscompany"):
        return Feedback(False, "that reads the first part as a host. It is a host only when it is localhost or has "
                               "a '.' or a ':' (or a capital letter); hcscompany is a Docker Hub account.")
    return Feedback(False, f"{answer!s}: a name with no registry part goes to the default registry. Which is it?")


# --- searching and downloading: what a pull downloads -----------------------------------------------------

def layers_to_download(lab, have: str = "labkit/webapp:1.0", want: str = "labkit/reports") -> tuple[int, int]:
    held = {d.digest for d in lab.store.manifest(lab.image(have)).layers}
    layers = lab.store.manifest(lab.image(want)).layers
    return sum(1 for d in layers if d.digest not in held), len(layers)


def check_download(lab, answer) -> Feedback:
    n = parse_number(answer, words=("layers", "layer"))
    if n is None:
        return empty("a number of layers")
    new, total = layers_to_download(lab)
    if n == new:
        return Feedback(True, f"{new} of its {total} layers: the others have digests this host already stores "
                              "(Already exists), so they never travel again.")
    if n == total:
        return Feedback(False, f"{total} is every layer, as if each image were downloaded whole. A pull fetches only "
                               "the layers whose digests the host does not have yet.")
    if n == 0:
        return Feedback(False, "0 assumes the two images are the same. They share their base layers only.")
    return Feedback(False, f"{n}: count the layers of labkit/reports that labkit/webapp:1.0 does not have.")


# --- tags ------------------------------------------------------------------------------------------------

def check_production_ref(lab, answer) -> Feedback:
    text = str(answer or "").strip()
    if not text:
        return empty("a reference or its number")
    choice = {"1": "ubuntu", "2": "ubuntu:16.04", "3": "ubuntu:16.04@sha256:..."}.get(text.strip("() ."), text)
    if "@sha256:" in choice:
        return Feedback(True, "the tag says which version for people; the digest gets the exact bytes you tested, "
                              "even after the tag moves.")
    if ":" in choice.split("/")[-1]:
        return Feedback(False, "a version tag is better than none, but it moves too, to each rebuild: production "
                               "would run bytes nobody tested. Add the digest.")
    return Feedback(False, "no tag means :latest, whatever it points to on the day of the pull.")


# --- building --------------------------------------------------------------------------------------------

DOCKERFILE = ("FROM busybox", "RUN mkdir /app", "COPY app.sh /app/", 'CMD ["/app/app.sh"]')


def built_layers(lab) -> int:
    """Return the layers the Dockerfile's image has: the base's, plus one per RUN/COPY/ADD (CMD: config only)."""
    base = len(lab.store.manifest(lab.image(DOCKERFILE[0].split()[1])).layers)
    return base + sum(1 for line in DOCKERFILE[1:] if line.split()[0] in ("RUN", "COPY", "ADD"))


def check_build_layers(lab, answer) -> Feedback:
    n = parse_number(answer, words=("layers", "layer"))
    if n is None:
        return empty("a number of layers")
    want = built_layers(lab)
    base = want - 2
    if n == want:
        return Feedback(True, f"{want}: busybox's {base}, plus one for RUN and one for COPY. CMD changes only the "
                              "config (history shows it as 0 B).")
    if n == want + 1:
        return Feedback(False, "that gives CMD a layer. CMD, ENV, LABEL, EXPOSE change only the config, no file: "
                               "no layer.")
    if n == want - base:
        return Feedback(False, "that forgets the base: the image keeps every layer of busybox under its own.")
    return Feedback(False, f"{n}: count the base image's layers, then one per instruction that changes files.")


LESSONS = [
    Lesson("09-id-to-pin", "Images (1/6): which ID pins?",
           "A script must pull exactly the ubuntu shown above with `ubuntu@sha256:...`. Whose IMAGE ID goes after "
           "`@sha256:`: the lab text's Docker's or Docker 29's?", check_id_to_pin,
           solution=lambda lab: f"Docker 29's ({pull_digest(lab.image('ubuntu')).hex[:12]}...): the pulled "
                                "manifest/index digest; the lab text's is the config digest, which no registry "
                                "serves as a manifest.",
           answers=lambda lab: ("Docker 29", "containerd", pull_digest(lab.image("ubuntu")).hex[:12],
                                f"ubuntu@{pull_digest(lab.image('ubuntu'))}"),
           wrong=lambda lab: (("the lab text's", "config"), (lab.image("ubuntu").image_id.hex[:12], "config"),
                              ("both", "config"), ("neither", "digest")),
           placeholder="Docker 29, the lab text's, or the ID"),
    Lesson("09-deleted-size", "Layers (2/6): deleted, still there",
           "How much do the apt lists that ubuntu's layer 2 deletes still add to ubuntu's SIZE?", check_deleted_size,
           solution=lambda lab: f"{human_size(deleted_bytes(lab))}: all of their bytes, hidden in layer 1.",
           answers=lambda lab: (human_size(deleted_bytes(lab)),), wrong=lambda lab: (("0", "frees"),),
           placeholder="a size"),
    Lesson("09-registry-of", "Namespaces (3/6): which registry?",
           "Which registry does `docker pull hcscompany/clock` contact?", check_registry_of,
           solution=lambda lab: "docker.io (Docker Hub): hcscompany is an account there.",
           answers=lambda lab: ("docker.io",), wrong=lambda lab: (("hcscompany", "host"),),
           placeholder="a registry host"),
    Lesson("09-download", "Downloading (4/6): what travels?",
           "You have labkit/webapp:1.0. How many layers does `docker pull labkit/reports` download?", check_download,
           solution=lambda lab: f"{layers_to_download(lab)[0]}: the layers whose digests the host does not have.",
           answers=lambda lab: (str(layers_to_download(lab)[0]),),
           wrong=lambda lab: ((str(layers_to_download(lab)[1]), "whole"),), placeholder="a number"),
    Lesson("09-production-ref", "Tags (5/6): production",
           "Which goes in a production deployment file: (1) ubuntu, (2) ubuntu:16.04 or (3) ubuntu:16.04@sha256:...?",
           check_production_ref,
           solution=lambda lab: "(3): name:tag@sha256:... (readable tag, exact digest).",
           answers=lambda lab: ("3",), wrong=lambda lab: (("2", "moves"), ("1", "latest")),
           placeholder="1, 2 or 3"),
    Lesson("09-build-layers", "Building (6/6): count the layers",
           "How many layers has the image this Dockerfile builds? " + " / ".join(DOCKERFILE), check_build_layers,
           solution=lambda lab: f"{built_layers(lab)}: the base's layers + RUN + COPY; CMD makes none.",
           answers=lambda lab: (str(built_layers(lab)),), wrong=lambda lab: ((str(built_layers(lab) + 1), "CMD"),),
           placeholder="a number"),
]

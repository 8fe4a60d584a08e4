"""09 · Summary: one prediction or decision per objective of the lab, each checked on the lab's images."""

from __future__ import annotations

from ..formatting import human_size
from ..reference import Reference
from .base import Feedback, Lesson, close_to, empty, parse_number, parse_size, words, yes_no
from .image import holders
from .pulling import pull_digest

HUB_NAMES = ("docker.io", "docker hub", "dockerhub", "hub.docker.com", "registry-1.docker.io", "index.docker.io")


# --- images: two stores, two IMAGE IDs --------------------------------------------------------------------

def check_ids_match(lab, answer) -> Feedback:
    said = yes_no(answer)
    if said is None:
        return empty("yes or no")
    record = lab.image("ubuntu")
    same = record.image_id == pull_digest(record)
    if said == same:
        return Feedback(True, "no: the lab text's Docker shows the config's digest "
                              f"({record.image_id.hex[:12]}), Docker 29's containerd store the digest the pull "
                              f"named ({pull_digest(record).hex[:12]}). Same image, two names; compare digests "
                              "of the same kind.")
    return Feedback(False, "that assumes IMAGE ID is one fixed number per image. It is a digest, but of which "
                           "document depends on the store: the config (graphdriver) or the manifest/index "
                           "(containerd, Docker 29's default).")


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
    Lesson("09-ids-match", "Images (1/6): two stores",
           "A classmate on Docker 29 and you on the lab text's Docker pull the same ubuntu. Do your IMAGE IDs "
           "match (yes/no)?", check_ids_match,
           solution=lambda lab: "No: graphdriver shows the config digest, containerd the manifest/index digest.",
           answers=lambda lab: ("no",), wrong=lambda lab: (("yes", "store"),), placeholder="yes or no"),
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

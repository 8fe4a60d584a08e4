"""04 · Namespaces: which host a name reaches, and publishing in your own namespace."""

from __future__ import annotations

from ..reference import Reference
from .base import Feedback, Lesson, empty, words

TRICKY = "Docker/docker"
HUB_NAMES = ("docker.io", "hub.docker.com", "registry-1.docker.io", "index.docker.io", "docker hub", "dockerhub")
TARGET_REPO, TARGET_TAG = "training/busybox", "v1"


def check_which_host(lab, answer) -> Feedback:
    text = words(answer)
    if not text:
        return empty("a host name")
    host = Reference.parse(TRICKY).domain
    if text == host.lower():
        return Feedback(True, f"{host}: a first part with a capital letter cannot be a Docker Hub account (those "
                              "are lower case), so Docker's rules read it as a registry host.")
    if text in HUB_NAMES:
        return Feedback(False, "that assumes every name of two parts is account/image on Docker Hub. The first part "
                               "here has a capital letter, which no account name has: Docker reads it as a host.")
    return Feedback(False, f"{answer!s} is not what Docker contacts: which part of {TRICKY} comes before the slash, "
                           "and what can that part be when it is not an account?")


def registry_tags(lab, repository: str) -> "list[str] | None":
    """Return the lab registry's tags for `repository` (None when it has no such repository). The lab registry
    is the home's docker.io mirror, the registry a notebook's `localhost:5000` names."""
    import requests

    url = lab.settings()["registry-mirrors"][0].rstrip("/")
    answer = requests.get(f"{url}/v2/{repository}/tags/list", timeout=5)
    if answer.status_code != 200:
        return None
    return answer.json().get("tags") or []


def check_training_push(lab, _answer=None) -> Feedback:
    tags = registry_tags(lab, TARGET_REPO)
    local = f"localhost:5000/{TARGET_REPO}"
    if tags is None:
        if any(r.repository == local for r in lab.images()):
            return Feedback(False, f"{local} is a name on your host only: tagging gives a name, pushing sends "
                                   "the image. Push it.")
        return Feedback(False, f"the registry has no {TARGET_REPO} yet. The name must start with the registry "
                               f"(localhost:5000/...) for a push to go there: tag busybox as {local}:{TARGET_TAG}, "
                               "then push that name.")
    if TARGET_TAG not in tags:
        return Feedback(False, f"{TARGET_REPO} is there with tags {tags}, not {TARGET_TAG}: without a tag, Docker "
                               f"uses latest; write :{TARGET_TAG} in both commands.")
    return Feedback(True, f"the registry at localhost:5000 holds {TARGET_REPO}:{TARGET_TAG}, in a namespace "
                          "(training/) of your own.")


LESSONS = [
    Lesson("04-which-host", "Predict: which host?",
           f"`docker pull {TRICKY}`: which host would Docker contact?",
           check_which_host,
           solution=lambda lab: f"{Reference.parse(TRICKY).domain}: a first part with an upper-case letter is read "
                                "as a registry host, never as a Docker Hub account.",
           answers=lambda lab: (Reference.parse(TRICKY).domain,),
           wrong=lambda lab: (("docker.io", "capital"),),
           placeholder="a host name"),
    Lesson("04-push-training", "Publish in your own namespace",
           f"Push busybox to the lab registry as localhost:5000/{TARGET_REPO}:{TARGET_TAG}, then press Check.",
           check_training_push,
           solution=lambda lab: f"%docker tag busybox localhost:5000/{TARGET_REPO}:{TARGET_TAG}\n"
                                f"%docker push localhost:5000/{TARGET_REPO}:{TARGET_TAG}",
           state=True),
]

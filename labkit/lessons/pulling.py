"""07 · Pulling: pin the image a script pulls, by the digest a registry knows it by.

Two stores, two IMAGE IDs: the lab text's Docker (graphdriver store) shows the digest of the image's config
as IMAGE ID, which no registry uses as a name; Docker 29's containerd store shows the digest the pull's
`Digest:` line names (the index, or the manifest), which is exactly what `name@sha256:...` pins.
"""

from __future__ import annotations

from ..errors import InvalidReference
from ..reference import Reference
from .base import Feedback, Lesson, empty

IMAGE = "debian:jessie"


def pull_digest(record):
    """Return the digest the pull's Digest: line printed: the index's when there was one, else the manifest's."""
    return record.index_digest or record.manifest.digest


def check_pin(lab, answer, image: str = IMAGE, verb: str = "pulled") -> Feedback:
    text = str(answer or "").strip()
    if not text:
        return empty("an image reference")
    try:
        ref = Reference.parse(text)
    except InvalidReference as e:
        return Feedback(False, str(e))
    record = lab.image(image)
    want = Reference.parse(image)
    if ref.name != want.name:
        return Feedback(False, f"{text} names the repository {ref.name}; the script uses {want.name}.")
    if ref.digest is None:
        return Feedback(False, f"a tag alone ({ref.tag or 'latest'}) is a name the publisher can move to another "
                               "image, and version tags are moved too, each time the image is rebuilt with fixes. "
                               "Add @sha256:... with the digest of the pull.")
    if ref.digest == record.image_id:
        return Feedback(False, "that is IMAGE ID as the lab text's Docker shows it: the digest of the image's config. "
                               "A registry does not know the image by that name. Pin the Digest: line of the pull "
                               "(Docker 29's IMAGE ID is that digest).")
    if ref.digest == pull_digest(record) or ref.digest == record.manifest.digest:
        tagged = f" `{ref.familiar}` keeps the tag for people and the digest for machines." if ref.tag else \
            " Adding the tag too (name:tag@sha256:...) keeps it readable: the digest wins."
        platform = "" if ref.digest == pull_digest(record) else \
            " (this is one platform's manifest; the Digest: line's index digest pins every platform)"
        shown = (" It is also the IMAGE ID Docker 29 shows (containerd store); the lab text's Docker shows the "
                 "config's digest instead, which no registry serves." if ref.digest == pull_digest(record) else "")
        return Feedback(True, f"pinned: this reference gets the same bytes everywhere, forever.{tagged}{platform}"
                              f"{shown}")
    return Feedback(False, f"that digest is not the one {image} {verb} here: copy the Digest: line of the pull.")


def solve_pin(lab) -> str:
    record = lab.image(IMAGE)
    return f"{IMAGE}@{pull_digest(record)}   (or debian@{pull_digest(record)}): the Digest: line of the pull."


LESSONS = [
    Lesson("07-pin", "Decide: pin a script's base image",
           f"Write the reference a script should pull to get exactly the {IMAGE} you pulled, on every machine.",
           check_pin, solution=solve_pin,
           answers=lambda lab: (f"{IMAGE}@{pull_digest(lab.image(IMAGE))}", f"debian@{pull_digest(lab.image(IMAGE))}"),
           wrong=lambda lab: ((IMAGE, "tag"), (f"debian@{lab.image(IMAGE).image_id}", "config")),
           placeholder="debian..."),
]

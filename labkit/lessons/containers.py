"""02 · Images and containers: what a copy-up costs, and changing a container."""

from __future__ import annotations

from ..formatting import human_size
from .base import Feedback, Lesson, close_to, empty, parse_size

IMAGE, FILE = "ubuntu", "/usr/bin/perl"


def copy_up_size(lab) -> int:
    """Return the bytes a container's read-write layer holds after a chmod of FILE: the whole file, copied up."""
    return lab.view(IMAGE).lookup(FILE.lstrip("/")).size


def image_size(lab) -> int:
    return next(r.size for r in lab.images() if r.repository == IMAGE)


def check_copy_up(lab, answer) -> Feedback:
    size = parse_size(answer)
    if size is None:
        return empty("a size such as 12 kB or 3.4 MB")
    want = copy_up_size(lab)
    if close_to(size, want):
        return Feedback(True, f"{human_size(want)}: the first change to an image file, even to its permissions "
                              "only, copies the whole file up into the container's read-write layer.")
    if size < want / 10:
        return Feedback(False, f"{human_size(size)} assumes a chmod changes only a few bytes of metadata. A read-only "
                               "layer cannot be changed, so the container needs its own copy of the file first: "
                               "a copy-up copies the whole file, whatever the change.")
    if close_to(size, image_size(lab) + want, 0.1) or close_to(size, image_size(lab), 0.1):
        return Feedback(False, "that is about the image's size: the container's virtual size. SIZE counts only the "
                               "read-write layer, and copy-on-write copies one file, never the image.")
    return Feedback(False, f"{human_size(size)} is not what the read-write layer holds. Which bytes must the "
                           "container copy before it can change the file's permissions?")


def check_task(lab, _answer=None) -> Feedback:
    container = lab.container("task")
    changes = container.diff()
    problems = []
    if "A /etc/motd" not in changes:
        problems.append("docker diff shows no 'A /etc/motd' yet: create the file")
    elif container.read("/etc/motd").decode().strip() != "Welcome to lab 5":
        problems.append(f"/etc/motd holds {container.read('/etc/motd').decode().strip()!r}, not 'Welcome to lab 5'")
    if "D /etc/lsb-release" not in changes:
        problems.append("docker diff shows no 'D /etc/lsb-release': the file is still there")
    if problems:
        return Feedback(False, "; ".join(problems) + ".")
    return Feedback(True, "docker diff shows A /etc/motd and D /etc/lsb-release. The image still holds "
                          "/etc/lsb-release: task's read-write layer only hides it with a whiteout, and every "
                          "other container of ubuntu still sees it.")


def do_task(lab) -> None:
    """Do what the task asks (tests use it to see the checker accept the real result)."""
    from ..shell import run

    run(lab.container("task"), "echo 'Welcome to lab 5' > /etc/motd && rm /etc/lsb-release")


LESSONS = [
    Lesson("02-copy-up-size", "Predict: what does a chmod cost?",
           f"A new container of {IMAGE} runs `chmod 755 {FILE}`. What SIZE will `docker ps -s` show for it?",
           check_copy_up,
           solution=lambda lab: f"About {human_size(copy_up_size(lab))}: the whole of {FILE} is copied up into the "
                                "read-write layer, then its mode changes there.",
           answers=lambda lab: (human_size(copy_up_size(lab)), str(copy_up_size(lab))),
           wrong=lambda lab: (("0 B", "copy-up"), ("100 B", "copy-up")),
           placeholder="a size, e.g. 12 kB"),
    Lesson("02-change-task", "Change a container",
           "Add /etc/motd ('Welcome to lab 5') and delete /etc/lsb-release in the container task.",
           check_task,
           solution=lambda lab: '%docker exec task sh -c "echo \'Welcome to lab 5\' > /etc/motd && rm /etc/lsb-release"',
           state=True, task=do_task),
]

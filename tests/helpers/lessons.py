"""A lab in the state a notebook has reached when its exercises come: what the lessons' checkers read."""

from __future__ import annotations

# what each notebook's setup pulls before its exercises (the notebooks call nb.setup with these)
PULLS = {
    "00": ["busybox"], "01": ["ubuntu"], "02": ["ubuntu"], "03": ["ubuntu"], "04": ["busybox"],
    "05": ["mkerker/duckhunt", "node", "httpd", "busybox", "ubuntu", "hcscompany/clock"], "06": [],
    "07": ["debian:jessie"], "08": ["debian:jessie"],
    "09": ["ubuntu", "busybox", "labkit/webapp:1.0", "labkit/reports"], "10": ["busybox"],
}


def notebook_state(lab, notebook: str):
    """Bring `lab` to what the notebook has made when its exercise comes (pulls, and the images it makes)."""
    for ref in PULLS[notebook]:
        lab.pull(ref)
    if notebook == "03":
        from labkit.shell import run

        builder = lab.create("ubuntu", name="builder")
        run(builder, "mkdir -p /opt/hello && echo 1 > /opt/hello/VERSION")
        lab.commit(builder, "myubuntu:v1")
        leaky = lab.create("ubuntu", name="leaky")
        run(leaky, "mkdir -p /root/.aws && echo 'aws_secret_access_key = wJalrXUtnFEMI' > /root/.aws/credentials")
        lab.commit(leaky, "leaky:1")
        cleaner = lab.create("leaky:1", name="cleaner")
        run(cleaner, "rm /root/.aws/credentials")
        lab.commit(cleaner, "leaky:2")
    if notebook == "08":  # version 2 of myapp: the notebook pushes debian:jessie to the tag and pulls it back
        lab.tag("debian:jessie", "localhost:5000/myapp:latest")
    return lab

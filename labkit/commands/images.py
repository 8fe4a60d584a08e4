"""Commands on stored images: images (image ls), inspect, tag, rmi, image prune, system df."""

from __future__ import annotations

import json

from .parser import command

# the names `docker images NAME` hints about when NAME matches nothing (docker/cli list.go printAmbiguousHint)
_IMAGE_SUBCOMMANDS = ("build", "history", "import", "inspect", "list", "load", "ls", "prune", "pull", "push", "rm",
                      "save", "tag")


@command("images", "List images")
def _images(p):
    p.add_argument("-a", "--all", action="store_true",
                   help="show all images (Docker 29 hides untagged ones without it)")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("--tree", action="store_true", help="list multi-platform images as a tree (one row per platform)")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]", help="only images of this repository")
    p.set_defaults(called_as="images")

    def run(ctx):
        from ..clock import now
        from ..errors import CliError
        from ..progress import is_terminal
        from ..tables import DOCKER29, images_output, images_tree

        a = ctx.args
        for flag, given in (("--quiet", a.quiet), ("--no-trunc", a.no_trunc), ("--show-digest", a.digests),
                            ("--format", a.format)):
            if a.tree and given:  # docker/cli shouldUseTree's messages
                raise CliError(f"{flag} is not yet supported with --tree")
        summaries = ctx.lab.image_summaries()
        if a.repository:
            summaries = _only_repository(summaries, a.repository, ctx.containerd)
        # Docker 29's CLI hides untagged images without --all (the lab text's Docker listed them as <none>);
        # its tree view always did
        collapsed = ctx.containerd and not (a.quiet or a.no_trunc or a.digests or a.format)
        if (ctx.containerd or a.tree) and not a.all:
            summaries = [s for s in summaries if s.repo_tags]
        if a.tree or collapsed:
            width = None
            if is_terminal(ctx.out):
                import shutil

                width = shutil.get_terminal_size().columns
            # the tree came with Docker 27, whose sizes never had the lab text's space ("1.07MB"); on the
            # graphdriver store it has no platform rows and no content (moby lists no manifests there)
            ctx.write(images_tree(summaries, DOCKER29, expanded=a.tree, width=width))
        else:
            ctx.write(images_output(summaries, now(), ctx.style, a.format, digests=a.digests, no_trunc=a.no_trunc,
                                    quiet=a.quiet))
        if not summaries and a.repository in _IMAGE_SUBCOMMANDS and a.called_as == "images":
            ctx.err.write(f'No images found matching "{a.repository}": did you mean "docker image {a.repository}"?\n')
    return run, True


def _only_repository(summaries, text: str, containerd: bool):
    """Return the summaries with names in the repository `docker images REPO[:TAG]` names (and only those
    names: Docker's reference filter keeps the matching tags of an image). The graphdriver store matches each
    name of an image, so `REPO:TAG` drops its digest names (moby daemon/images/image_list.go); the containerd
    store matches the image's tag names and gives the matching image its digest name (moby
    daemon/containerd/image_list.go singlePlatformImage)."""
    from ..reference import Reference

    ref = Reference.parse(text)
    wanted = ref.familiar_name

    def keep(name: str, tag: "str | None") -> bool:
        return name == wanted and (ref.tag is None or tag == ref.tag)

    out = []
    for s in summaries:
        tags = [t for t in s.repo_tags if keep(*t.rpartition(":")[::2])]
        digests = [d for d in s.repo_digests if (ref.tag is None or (containerd and tags))
                   and d.partition("@")[0] == wanted]
        if tags or digests:
            import dataclasses

            out.append(dataclasses.replace(s, repo_tags=tags, repo_digests=digests))
    return out


@command("inspect", "Return low-level information on images (and containers)")
def _inspect(p):
    p.add_argument("-f", "--format", default=None, metavar="FORMAT",
                   help="format output: 'json' or a Go template ('{{.Id}}', '{{index .Config.Labels \"k\"}}')")
    p.add_argument("--type", choices=["image", "container"], default=None, help="only objects of this type")
    p.add_argument("names", nargs="+", metavar="NAME")

    def run(ctx):
        from ..errors import LabkitError
        from ..inspection import inspect_any, render_inspect

        a = ctx.args
        # docker prints whatever it found, then fails for the rest
        found, errors = [], []
        lab = ctx.lab
        service = lab.image_service()
        for name in a.names:
            try:
                found.append(inspect_any(lab.store, lab.layers, lab.containers, name, service=service, kind=a.type))
            except LabkitError as e:
                errors.append(e)
        text, template_errors = render_inspect(found, a.format)
        ctx.write(text)
        for e in errors:
            ctx.err.write(f"Error: {' '.join(str(e).split())}\n")
        for message in template_errors:
            ctx.err.write(message + "\n")
        return 1 if errors or template_errors else 0
    return run, False


@command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
def _tag(p):
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")

    def run(ctx):
        from .references import check_tag_reference

        check_tag_reference(ctx.args.source, any_reference=True)
        check_tag_reference(ctx.args.target)
        ctx.lab.tag(ctx.args.source, ctx.args.target)
    return run, False


@command("rmi", "Remove one or more images")
def _rmi(p):
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("images", nargs="+", metavar="IMAGE")

    def run(ctx):
        return ctx.each(ctx.args.images, lambda name: ctx.lab.rmi(name, force=ctx.args.force))
    return run, False


_ALL_IMAGES_WARNING = ("WARNING! This will remove all images without at least one container associated to them.\n"
                       "Are you sure you want to continue?")
_DANGLING_WARNING = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"


@command("image prune", "Remove unused images")
def _image_prune(p):
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")

    def run(ctx):
        from ..prune import prune_images

        a = ctx.args
        if not a.force and not ctx.confirm(_ALL_IMAGES_WARNING if a.all else _DANGLING_WARNING):
            return 0  # docker: a cancelled prompt is no error
        lab = ctx.lab
        lines, reclaimed = prune_images(lab.store, lab.layers, lab.image_store, lab.containers.in_use(),
                                        all_images=a.all)
        if lines:
            ctx.print("Deleted Images:\n" + "".join(line + "\n" for line in lines))
        ctx.print(f"Total reclaimed space: {ctx.style.human(reclaimed)}")
    return run, False


@command("system", "Manage labkit (system df: show disk usage)")
def _system(p):
    sub = p.add_subparsers(dest="system_command", metavar="COMMAND", required=True)
    df = sub.add_parser("df", help="Show disk usage")
    df.add_argument("-v", "--verbose", action="store_true", help="show detailed information on space usage")
    df.add_argument("--format", default=None, metavar="FORMAT",
                    help="format output: 'table', 'json', or a Go template ('{{.Type}}: {{.Size}}')")

    def run(ctx):
        from ..clock import now
        from ..tables import system_df_output

        usage = ctx.lab.system_df()
        ctx.write(system_df_output(usage, now(), ctx.style, verbose=ctx.args.verbose, fmt=ctx.args.format))
    return run, False

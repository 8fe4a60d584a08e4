"""Commands on containers and image building: create, start, stop, run, exec, ps, diff, commit, rm,
import, history, unpack."""

from __future__ import annotations

import sys

from .parser import command


def _pull_progress(ctx):
    """Return the progress renderer for an implicit pull (docker prints it before the command's output)."""
    from ..progress import renderer_for

    return renderer_for(ctx.err)  # docker prints an implicit pull on stderr


def _write_output(ctx, text: str) -> None:
    if text:
        ctx.out.write(text if text.endswith("\n") else text + "\n")
        ctx.out.flush()


def _image_id(ctx, record) -> str:
    """Return the ID `commit` and `import` print: the new image's config digest, or with the containerd
    store its manifest's digest."""
    return str(ctx.lab.image_service().image_id(record))


@command("create", "Create a new container (state Created)")
def _create(p):
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("cmd", nargs="*", metavar="COMMAND")

    def run(ctx):
        c = ctx.lab.create(ctx.args.image, name=ctx.args.name, cmd=ctx.args.cmd, progress=_pull_progress(ctx))
        ctx.print(c.id)
    return run, False


def _state_change(verb: str):
    """Return the setup of `start` or `stop`: change each named container's state, print its name as given."""

    def setup(p):
        p.add_argument("containers", nargs="+", metavar="CONTAINER")

        def run(ctx):
            change = getattr(ctx.lab.containers, verb)

            def one(ref):
                change(ref)
                return ref  # docker prints each container as it was named

            return ctx.each(ctx.args.containers, one)
        return run, False
    return setup


command("start", "Start one or more stopped containers")(_state_change("start"))
command("stop", "Stop one or more running containers")(_state_change("stop"))


@command("run", "Create and run a new container from an image (commands go to labkit's built-in shell)")
def _run(p):
    p.add_argument("-d", "--detach", action="store_true", help="run in the background and print the container ID")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("-i", "--interactive", action="store_true", help="accepted for docker compatibility")
    p.add_argument("-t", "--tty", action="store_true", help="accepted for docker compatibility")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("cmd", nargs="...", metavar="COMMAND")

    def run(ctx):
        a = ctx.args
        container, output, status, _ops = ctx.lab.run(a.image, cmd=a.cmd, detach=a.detach, name=a.name,
                                                      progress=_pull_progress(ctx))
        if a.detach:
            ctx.print(container.id)
            return 0
        _write_output(ctx, output)
        if a.rm:
            ctx.lab.containers.rm(container, force=True)
        return status
    return run, False


@command("exec", "Run a command in a running container (labkit's built-in shell)")
def _exec(p):
    p.add_argument("-i", "--interactive", action="store_true", help="accepted for docker compatibility")
    p.add_argument("-t", "--tty", action="store_true", help="accepted for docker compatibility")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("cmd", nargs="...", metavar="COMMAND")

    def run(ctx):
        from ..errors import UsageError

        if not ctx.args.cmd:
            raise UsageError('"labkit exec" requires at least 2 arguments.')
        output, status, _ops = ctx.lab.containers.exec(ctx.args.container, ctx.args.cmd)
        _write_output(ctx, output)
        return status
    return run, False


@command("ps", "List containers")
def _ps(p):
    p.add_argument("-a", "--all", action="store_true", help="show all containers (default shows just running)")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")

    def run(ctx):
        from ..clock import now
        from ..tables import ps_output

        a = ctx.args
        containers = ctx.lab.containers.list(all=a.all)
        platforms = _platforms(ctx, containers) if ctx.containerd else {}
        ctx.write(ps_output(ctx.lab.containers, containers, now(), ctx.style, a.format, sizes=a.size,
                            no_trunc=a.no_trunc, quiet=a.quiet, platforms=platforms))
    return run, True


def _platforms(ctx, containers) -> dict:
    """Return {container ID: "os/arch[/variant]"} of the image each container runs (the containerd store's
    ps reports the image manifest's platform)."""
    from ..errors import LabkitError

    out = {}
    for c in containers:
        if not c.image_id:
            continue
        try:
            cfg = ctx.lab.store.config(ctx.lab.store.resolve(c.image_id))
        except LabkitError:
            continue
        out[c.id] = f"{cfg.os}/{cfg.architecture}" + (f"/{cfg.variant}" if cfg.variant else "")
    return out


@command("container prune", "Remove all stopped containers")
def _container_prune(p):
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")

    def run(ctx):
        from ..prune import prune_containers

        warning = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
        if not ctx.args.force and not ctx.confirm(warning):
            return 0  # docker: a cancelled prompt is no error
        ids, reclaimed = prune_containers(ctx.lab.containers)
        if ids:
            ctx.print("Deleted Containers:\n" + "".join(i + "\n" for i in ids))
        ctx.print(f"Total reclaimed space: {ctx.style.human(reclaimed if ids else 0)}")
    return run, False


@command("diff", "Inspect changes to files or directories on a container's filesystem")
def _diff(p):
    p.add_argument("container", metavar="CONTAINER")

    def run(ctx):
        for line in ctx.lab.container(ctx.args.container).diff():
            ctx.print(line)
    return run, False


@command("commit", "Create a new image from a container's changes")
def _commit(p):
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument("-a", "--author", default="", help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction to the image")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")

    def run(ctx):
        a = ctx.args
        record = ctx.lab.commit(a.container, a.reference, message=a.message, author=a.author, changes=a.change)
        ctx.print(_image_id(ctx, record))
    return run, False


@command("rm", "Remove one or more containers")
def _rm(p):
    p.add_argument("-f", "--force", action="store_true", help="force the removal of a running container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    def run(ctx):
        return ctx.each(ctx.args.containers, lambda ref: ctx.lab.containers.rm(ref, force=ctx.args.force))
    return run, False


@command("import", "Import the contents from a tarball to create a filesystem image")
def _import(p):
    p.add_argument("-m", "--message", default="", help="set commit message for imported image")
    p.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction to the image")
    p.add_argument("file", metavar="file|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")

    def run(ctx):
        from ..commit import import_tarball
        from ..errors import NotFound

        a = ctx.args
        if a.file == "-":
            record = import_tarball(ctx.lab.store, ctx.lab.layers, sys.stdin.buffer, a.reference, message=a.message,
                                    changes=a.change, source="-")
        else:
            try:
                f = open(a.file, "rb")
            except OSError as e:
                raise NotFound(f"import {a.file}: {e.strerror}") from None
            with f:
                record = import_tarball(ctx.lab.store, ctx.lab.layers, f, a.reference, message=a.message,
                                        changes=a.change, source=a.file)
        ctx.print(_image_id(ctx, record))
    return run, False


@command("history", "Show the history of an image")
def _history(p):
    p.add_argument("-H", "--human", default="true", choices=["true", "false"],
                   help="print sizes and dates in human readable format (default true)")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("image", metavar="IMAGE")

    def run(ctx):
        from ..clock import now
        from ..tables import history_output

        a = ctx.args
        rows = ctx.lab.history(a.image)
        ctx.write(history_output(rows, now(), ctx.style, a.format, no_trunc=a.no_trunc, quiet=a.quiet,
                                 human=a.human == "true"))
    return run, True


@command("unpack", "Write an image's root filesystem to a directory (a standalone copy)")
def _unpack(p):
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("directory", metavar="DIR")

    def run(ctx):
        a = ctx.args
        r = ctx.lab.unpack(a.image, a.directory)
        ctx.print(f"unpacked {a.image} into {a.directory}: {r.files} files, {r.dirs} directories, "
                  f"{r.symlinks} symlinks, {r.hardlinks} hard links")
        if r.devices:
            ctx.print(f"not created: {len(r.devices)} device nodes (recorded in the image only)")
    return run, False

"""Commands on containers and image building: create, start, stop, run, exec, ps, diff, commit, rm,
import, history, unpack."""

from __future__ import annotations

import sys

from ..errors import LabkitError
from .context import one_line
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


def _container_options(p, run: bool = False) -> None:
    """Add the options `create` and `run` share (docker container create's)."""
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE", help="set environment variables")
    p.add_argument("--entrypoint", help="overwrite the default ENTRYPOINT of the image")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("--rm", action="store_true", help="automatically remove the container when it exits")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("cmd", nargs="..." if run else "*", metavar="COMMAND")


def _create_options(a) -> dict:
    env = []
    for item in a.env:
        if "=" not in item:
            import os

            if item not in os.environ:
                continue
            item = f"{item}={os.environ[item]}"       # docker -e NAME passes the client's value
        env.append(item)
    return {"entrypoint": None if a.entrypoint is None else [a.entrypoint], "env": env, "tty": a.tty,
            "interactive": a.interactive, "workdir": a.workdir, "auto_remove": a.rm}


@command("create", "Create a new container (state Created)")
def _create(p):
    _container_options(p)

    def run(ctx):
        from .references import check_reference

        a = ctx.args
        check_reference(a.image, any_reference=True)
        c = ctx.lab.create(a.image, name=a.name, cmd=a.cmd, progress=_pull_progress(ctx), **_create_options(a))
        ctx.print(c.id)
    return run, False


@command("start", "Start one or more stopped containers")
def _start(p):
    p.add_argument("-a", "--attach", action="store_true", help="attach STDOUT/STDERR and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="attach container's STDIN")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    def run(ctx):
        from ..containers import process
        from .attach import follow

        a = ctx.args
        if a.attach or a.interactive:
            c = ctx.lab.containers.get(a.containers[0])
            printed = len(process.read_log(c))
            stdin = _read_stdin() if a.interactive and not _stdin_is_terminal() else None
            ctx.lab.containers.start(c, stdin=stdin)
            status = follow(ctx, c, printed, interactive=a.interactive and stdin is None)
            return status or 0
        status = ctx.each(a.containers, lambda ref: (ctx.lab.containers.start(ref), ref)[1])
        if status:
            failed = []
            for ref in a.containers:
                try:
                    if not ctx.lab.containers.get(ref).running:
                        failed.append(ref)
                except LabkitError:
                    failed.append(ref)
            ctx.err.write(f"Error: failed to start containers: {', '.join(failed)}\n")
            ctx.err.flush()
        return status
    return run, False


@command("stop", "Stop one or more running containers (SIGTERM, then SIGKILL after the grace period)")
def _stop(p):
    p.add_argument("-s", "--signal", help="signal to send to the container")
    p.add_argument("-t", "--timeout", "--time", type=int, dest="timeout",
                   help="seconds to wait before killing the container (simulated time; default 10)")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    def run(ctx):
        a = ctx.args
        return ctx.each(a.containers, lambda ref: (ctx.lab.containers.stop(ref, timeout=a.timeout, signal=a.signal),
                                                   ref)[1])
    return run, False


@command("kill", "Kill one or more running containers (a signal to PID 1; SIGKILL by default)")
def _kill(p):
    p.add_argument("-s", "--signal", default="KILL", help="signal to send to the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")

    def run(ctx):
        a = ctx.args
        return ctx.each(a.containers, lambda ref: (ctx.lab.containers.kill(ref, signal=a.signal), ref)[1])
    return run, False


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_stdin() -> str:
    """Return all of labkit's standard input (what `run -i` gives the container); "" when there is none."""
    try:
        return sys.stdin.read()
    except Exception:  # noqa: BLE001 - a notebook kernel's stdin may refuse reads: no input, as docker sees it
        return ""


def _remove_quietly(ctx, container) -> None:
    """Remove a --rm container once it ended (it may be gone already: listing removes an ended --rm one)."""
    from ..errors import NotFound

    try:
        ctx.lab.containers.rm(container, force=True)
    except NotFound:
        pass


def _check_tty(ctx, interactive: bool, tty: bool) -> None:
    """Refuse -it without a terminal, as docker/cli's In.CheckTty does."""
    from ..errors import LabkitError

    if interactive and tty and not _stdin_is_terminal():
        raise LabkitError("the input device is not a TTY")


@command("run", "Create and run a new container from an image (its command runs in labkit's shell)")
def _run(p):
    p.add_argument("-d", "--detach", action="store_true", help="run in the background and print the container ID")
    _container_options(p, run=True)

    def run(ctx):
        from ..containers import StartError
        from .attach import follow
        from .references import check_reference

        a = ctx.args
        if not a.detach:
            _check_tty(ctx, a.interactive, a.tty)
        check_reference(a.image, any_reference=True, prefix="docker: ", status=125)
        stdin = _read_stdin() if a.interactive and not a.detach and not _stdin_is_terminal() else None
        try:
            c = ctx.lab.create(a.image, name=a.name, cmd=a.cmd, progress=_pull_progress(ctx), **_create_options(a))
        except LabkitError as e:
            ctx.err.write(f"Error: {one_line(e)}\n")
            ctx.err.flush()
            return 125                                   # docker/cli run: a daemon error before the start
        try:
            ctx.lab.containers.start(c, stdin=stdin)
        except StartError as e:
            ctx.err.write(f"Error: {one_line(e)}\n")
            ctx.err.flush()
            if a.rm:
                _remove_quietly(ctx, c)
            return e.status
        if a.detach:
            ctx.print(c.id)
            return 0
        status = follow(ctx, c, 0, interactive=a.interactive and stdin is None)
        if status is not None and a.rm:
            _remove_quietly(ctx, c)
        return 0 if status is None else status
    return run, False


@command("exec", "Run a command in a running container (labkit's shell)")
def _exec(p):
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE", help="set environment variables")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("cmd", nargs="...", metavar="COMMAND")

    def run(ctx):
        from ..errors import UsageError

        a = ctx.args
        if not a.cmd:
            raise UsageError('"labkit exec" requires at least 2 arguments.')
        c = ctx.lab.containers.get(a.container)          # "No such container" first, as docker/cli checks
        _check_tty(ctx, a.interactive, a.tty)
        stdin = _read_stdin() if a.interactive and not _stdin_is_terminal() else None
        r = ctx.lab.containers.exec(c, a.cmd, stdin=stdin, env=a.env, workdir=a.workdir)
        if r.error is not None:
            _write_output(ctx, r.error)                  # the daemon writes it on the exec's output stream
            return r.status
        _write_output(ctx, r.stdout)
        if r.stderr:
            stream = ctx.out if a.tty else ctx.err
            stream.write(r.stderr)
            stream.flush()
        if r.status is None:
            ctx.err.write(f"labkit: `{' '.join(a.cmd)}` is still running (it waits for good); labkit ends it here\n")
            ctx.err.flush()
            return 0
        return r.status
    return run, False


@command("logs", "Fetch the logs of a container")
def _logs(p):
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("-n", "--tail", default="all", help='number of lines to show from the end of the logs ("all")')
    p.add_argument("container", metavar="CONTAINER")

    def run(ctx):
        from ..containers import process
        from ..errors import UsageError
        from .attach import follow, print_records

        a = ctx.args
        c = ctx.lab.containers.get(a.container)
        records = process.read_log(c)
        if a.tail != "all":
            try:
                n = int(a.tail)
            except ValueError:
                raise UsageError(f'invalid value for "tail": "{a.tail}"') from None
            if n >= 0:
                records = records[len(records) - n:] if n else []
        print_records(ctx, records, a.timestamps)
        if a.follow and c.running:
            follow(ctx, c, len(process.read_log(c)), timestamps=a.timestamps)
        return 0
    return run, False


@command("top", "Display the running processes of a container")
def _top(p):
    p.add_argument("container", metavar="CONTAINER")

    def run(ctx):
        from ..clock import now
        from ..containers import process
        from ..tables import tabwrite

        titles, rows = process.top(ctx.lab.containers.get(ctx.args.container), now())
        ctx.out.write(tabwrite([titles] + rows))
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
        from .references import check_reference

        a = ctx.args
        if a.reference:
            check_reference(a.reference)     # the client checks it before the daemon looks for the container
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

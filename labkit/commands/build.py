"""`build` (BuildKit's `docker build`) and `builder prune` (its build cache)."""

from __future__ import annotations

import os
import sys

from .parser import command


def _pairs(items, what: str) -> dict:
    """Return KEY=value options as a dict; a bare KEY takes the value from the environment (docker's rule)."""
    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not key:
            from ..errors import UsageError

            raise UsageError(f"invalid {what}: {item!r}")
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


def _progress_mode(ctx) -> str:
    mode = ctx.args.progress
    if ctx.args.quiet:
        return "quiet"
    if mode == "auto":
        return "tty" if getattr(ctx.err, "isatty", lambda: False)() else "plain"
    return mode


@command("build", "Build an image from a Dockerfile (BuildKit: its cache, stages and output)")
def _build(p):
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]",
                   help="name and optionally a tag (repeatable)")
    p.add_argument("-f", "--file", help='name of the Dockerfile (default: "PATH/Dockerfile")')
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="set a build-time variable")
    p.add_argument("--target", default="", help="set the target build stage to build")
    p.add_argument("--no-cache", action="store_true", help="do not use cache when building the image")
    p.add_argument("--no-cache-filter", action="append", default=[], metavar="STAGE",
                   help="do not cache specified stages")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set metadata for an image")
    p.add_argument("--platform", help="set the target platform (recorded: labkit's shell runs everywhere)")
    p.add_argument("--iidfile", help="write the image ID to the file")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the build output and print image ID on success")
    p.add_argument("--progress", choices=["auto", "plain", "tty", "quiet"], default="auto",
                   help="set type of progress output (auto, plain, tty, quiet)")
    p.add_argument("path", metavar="PATH", help='the build context ("-" reads a Dockerfile from stdin, no context)')

    def run(ctx):
        import tempfile

        from ..build.builder import BuildError, BuildRequest
        from ..build.display import ERROR_PREFIX, PlainDisplay, TtyDisplay, failure_report, warnings_summary
        from ..build.events import Recorder

        a = ctx.args
        mode = _progress_mode(ctx)
        recorder = Recorder()
        display = None
        if mode == "plain":
            display = PlainDisplay(ctx.err)
        elif mode == "tty":
            display = TtyDisplay(ctx.err)

        def progress(event):
            recorder(event)
            if display is not None:
                display(event)

        labels = _pairs(a.label, "label")
        build_args = _pairs(a.build_arg, "build-arg")
        stdin_dir = None
        context, dockerfile, text = a.path, a.file, None
        if a.path == "-":
            stdin_dir = tempfile.TemporaryDirectory(prefix="labkit-build-")
            context = stdin_dir.name
            text = sys.stdin.read()
        elif a.file == "-":
            text = sys.stdin.read()
            dockerfile = None
        elif a.file and not os.path.isabs(a.file) and not os.path.exists(a.file):
            dockerfile = os.path.join(a.path, a.file)
        req = BuildRequest(context=context, dockerfile=dockerfile, dockerfile_text=text, tags=list(a.tag),
                           build_args=build_args, target=a.target, no_cache=a.no_cache,
                           no_cache_filter=list(a.no_cache_filter), labels=labels, platform=a.platform)
        lab = ctx.lab
        try:
            result = lab.builder().build(req, progress)
        except BuildError as e:
            if display is None:                 # quiet: docker still says what failed
                failure = [ev for ev in recorder.events if type(ev).__name__ == "BuildFailed"]
                ctx.err.write(failure_report(recorder.events, failure[-1], with_warnings=False) if failure
                              else ERROR_PREFIX + e.message + "\n")
            return 1
        finally:
            if isinstance(display, TtyDisplay):
                display.close()
            if stdin_dir is not None:
                stdin_dir.cleanup()
        if display is not None:                 # buildx lists the build checks' warnings when the display closes
            ctx.err.write(warnings_summary(recorder.events))
        image_id = str(result.image_id(getattr(lab, "image_store", "graphdriver")))
        if a.iidfile:
            with open(a.iidfile, "w") as f:
                f.write(image_id)
        if mode == "quiet":
            ctx.print(image_id)
        return 0
    return run, False


@command("builder", "Manage builds (builder prune: remove build cache)")
def _builder(p):
    sub = p.add_subparsers(dest="builder_command", metavar="COMMAND", required=True)
    prune = sub.add_parser("prune", help="Remove build cache")
    prune.add_argument("-a", "--all", action="store_true", help="remove all unused build cache, not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")

    def run(ctx):
        from ..build.cache import BuildCache
        from ..formatting import human_size
        from ..tables import DOCKER29

        a = ctx.args
        lab = ctx.lab
        cache = BuildCache(lab.home, lab.store)
        warning = ("WARNING! This will remove all build cache. Are you sure you want to continue?" if a.all else
                   "WARNING! This will remove all dangling build cache. Are you sure you want to continue?")
        if not a.force:
            ctx.out.write(warning + " [y/N] ")
            ctx.out.flush()
            answer = sys.stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                return 0                        # docker: a cancelled prune removes nothing and says no more
        in_use = {str(d) for d in lab.store.layout.reachable()}
        usage = {i["id"]: i for i in cache.disk_usage(in_use)}     # before the records go
        removed = cache.prune(in_use=in_use, everything=a.all)
        if ctx.style is DOCKER29:
            ctx.out.write(_buildx_prune_report([usage[r.id] for r in removed if r.id in usage], ctx.style))
            return 0
        reclaimed = sum(r.reclaimable(in_use) for r in removed)
        if removed:
            ctx.print("Deleted build cache objects:")
            for rec in removed:
                ctx.print(rec.id)
            ctx.print()
        ctx.print(f"Total reclaimed space: {human_size(reclaimed, 4, '')}")  # go-units HumanSize
        return 0
    return run, False


def _buildx_prune_report(items: list, style) -> str:
    """Return what Docker 29's `docker builder prune` prints: the CLI hands `builder` to buildx (docker/cli
    cmd/docker/builder.go forwardBuilder), whose prune (docker/buildx commands/prune.go) lists each removed
    record ("%-40s\t%-5v\t%-10s\t%s": ID, RECLAIMABLE, SIZE with "*" when shared, LAST ACCESSED) through a
    tabwriter padding with tabs (minwidth 1, tabwidth 8, padding 1), flushed after each row, then
    "Total:\t" and the bytes of every removed record."""
    from ..clock import now
    from ..formatter import tabwrite_text
    from ..formatting import time_ago

    def tabbed(rows: list) -> str:                      # one tabwriter block, flushed
        return tabwrite_text("".join("\t".join(r) + "\n" for r in rows), minwidth=1, padding=1, padchar="\t")

    text = ""
    at = now()
    for n, i in enumerate(sorted(items, key=lambda i: i["id"])):
        size = style.human(i["size"]) + ("*" if i["shared"] else "")
        row = [f"{i['id']:<40}", f"{'true' if not i['in_use'] else 'false':<5}", f"{size:<10}",
               time_ago(i["last_used"], at) if i["last_used"] is not None else ""]
        text += tabbed([["ID", "RECLAIMABLE", "SIZE", "LAST ACCESSED"], row] if n == 0 else [row])
    total = sum(i["size"] for i in items)
    return text + tabbed([["Total:", style.human(total)]])

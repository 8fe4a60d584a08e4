"""Commands that talk to registries or run one: registry serve, lab up/down/reset."""

from __future__ import annotations

from .parser import command


@command("registry", "Run the lab registry (a small distribution-API server)")
def _registry(p):
    sub = p.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="serve an OCI layout over the registry API, in the foreground")
    serve.add_argument("--addr", default="127.0.0.1:5000", help="host:port to listen on (default 127.0.0.1:5000)")
    serve.add_argument("--root", help="the registry's storage folder (default: <home>/registry)")
    serve.add_argument("--auth", choices=["none", "token", "basic"], default="none", help="authentication mode")

    def run(ctx):
        from pathlib import Path

        from ..registry.server import serve_forever

        a = ctx.args
        root = Path(a.root) if a.root else ctx.lab.home / "registry"
        serve_forever(root, a.addr, a.auth, on_ready=lambda line: ctx.print(line))
    return run, False


@command("lab", "Start, stop or reset the lab: the seeded lab registry and its docker.io mirror setting")
def _lab(p):
    sub = p.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)
    up = sub.add_parser("up", help="start the seeded lab registry in the background and set it as the docker.io mirror")
    up.add_argument("--no-mirror", action="store_true", help="don't set the mirror: docker.io references reach Docker Hub")
    up.add_argument("--addr", help="where the lab registry listens (default: $LABKIT_LAB_ADDR, else 127.0.0.1:5000, "
                                   "else a free port when that one is another's)")
    sub.add_parser("down", help="stop the lab registry and remove the mirror setting")
    sub.add_parser("reset", help="restore the lab: registry reseeded, local images and containers removed")

    def run(ctx):
        from .. import labctl

        a = ctx.args
        if a.lab_command == "up":
            lines = labctl.lab_up(ctx.lab.home, addr=a.addr, mirror=not a.no_mirror)
        elif a.lab_command == "down":
            lines = labctl.lab_down(ctx.lab.home)
        else:
            lines = labctl.lab_reset(ctx.lab.home)
        for line in lines:
            ctx.print(line)
    return run, False


@command("pull", "Download an image from a registry")
def _pull(p):
    p.add_argument("--platform", help="os/arch[/variant] to pull from a multi-platform image (default: this machine's)")
    p.add_argument("--no-extract", action="store_true",
                   help="stop after fetch + verify + store (skip applying layers)")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.add_argument("--trace", action="store_true",
                   help="print the HTTP conversation on stderr, marking what Docker Hub counts as a pull")
    p.add_argument("reference", metavar="NAME[:TAG|@DIGEST]")

    def run(ctx):
        from ..progress import Recorder, renderer_for
        from .references import check_reference

        a = ctx.args
        check_reference(a.reference)
        progress = Recorder() if a.quiet else renderer_for(ctx.out)
        trace = None
        if a.trace:
            from ..registry.trace import Trace
            trace = Trace()
        try:
            result = ctx.lab.pull(a.reference, platform=a.platform, extract=not a.no_extract, progress=progress,
                                  trace=trace)
        finally:
            if trace is not None:  # a failed pull's conversation says why it failed
                ctx.out.flush()
                ctx.err.write("".join(line + "\n" for line in trace.report()))
        if a.quiet:
            ctx.print(result.reference.canonical)
    return run, False

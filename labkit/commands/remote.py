"""Commands that send to or ask registries: push, search, login, logout (docker's flags and lines)."""

from __future__ import annotations

import sys

from .parser import command


def _settings(ctx) -> dict:
    from ..home import load_settings

    return load_settings(ctx.lab.home)


@command("push", "Upload an image to a registry")
def _push(p):
    p.add_argument("reference", metavar="NAME[:TAG]")

    def run(ctx):
        from ..push import push, push_renderer_for
        from .references import check_reference

        check_reference(ctx.args.reference)
        renderer = push_renderer_for(ctx.out)
        try:
            push(ctx.lab.store, ctx.args.reference, progress=renderer, settings=_settings(ctx))
        finally:
            renderer.close()
            ctx.out.flush()
    return run, False


@command("search", "Search Docker Hub (and the lab's mirrors) for images")
def _search(p):
    p.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                   help="filter output: stars=N, is-official=true|false, is-automated=true|false")
    p.add_argument("--limit", type=int, default=25, help="max number of search results (default 25)")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("term", metavar="TERM")

    def run(ctx):
        from ..formatter import parse_format
        from ..registry.search import search, search_output

        a = ctx.args
        if a.format:
            parse_format(a.format)  # a bad template fails before the network is asked
        results = search(a.term, limit=a.limit, filters=a.filter, settings=_settings(ctx), home=ctx.lab.home)
        ctx.write(search_output(results, a.format, no_trunc=a.no_trunc, docker29=ctx.containerd))
    return run, True


@command("login", "Log in to a registry (Docker Hub when no server is given)")
def _login(p):
    p.add_argument("-u", "--username", help="username")
    p.add_argument("-p", "--password", help="password (prefer --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    p.add_argument("server", nargs="?", metavar="SERVER")

    def run(ctx):
        from ..errors import UsageError
        from ..progress import is_terminal
        from ..registry.login import login

        a = ctx.args
        stdin = sys.stdin
        username, password = a.username, a.password
        if a.password is not None and a.password_stdin:
            raise UsageError("login: --password and --password-stdin are mutually exclusive")
        if a.password_stdin:
            if not username:
                raise UsageError("login: must provide --username with --password-stdin")
            password = stdin.read()
            password = password.removesuffix("\n").removesuffix("\r")
        elif password is not None:
            ctx.err.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
        interactive = is_terminal(stdin)
        if not username or password is None:
            if not interactive:
                raise UsageError("login: cannot perform an interactive login from a non TTY device; "
                                 "use -u USER with --password-stdin (or -p PASSWORD)")
            if not username:
                ctx.out.write("Username: ")
                ctx.out.flush()
                username = stdin.readline().strip()
            if password is None:
                import getpass

                password = getpass.getpass("Password: ")
        line = login(a.server, username, password, settings=_settings(ctx), home=ctx.lab.home,
                     warn=lambda w: ctx.err.write(w + "\n"))
        ctx.print(line)
    return run, False


@command("logout", "Log out from a registry (Docker Hub when no server is given)")
def _logout(p):
    p.add_argument("server", nargs="?", metavar="SERVER")

    def run(ctx):
        from ..registry.login import logout

        ctx.print(logout(ctx.args.server, warn=lambda w: ctx.err.write(w + "\n")))
    return run, False

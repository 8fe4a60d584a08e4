"""Commands on stored images: images, inspect, tag, rmi, system df."""

from __future__ import annotations

import json

from .parser import command


@command("images", "List images")
def _images(p):
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("repository", nargs="?", help="only images of this repository")

    def run(ctx):
        from .. import tables
        from ..clock import now

        a = ctx.args
        records = ctx.lab.images()
        if a.repository:
            records = [r for r in records if _matches_repository(r, a.repository)]
        if a.quiet:
            seen = []
            for r in records:
                ident = str(r.image_id) if a.no_trunc else r.image_id.short
                if ident not in seen:
                    seen.append(ident)
            for ident in seen:
                ctx.print(ident)
        elif a.format == "json":
            ctx.json_lines(tables.images_json(records, now()))
        else:
            ctx.out.write(tables.images_table(records, now(), digests=a.digests, no_trunc=a.no_trunc))
    return run, True


def _matches_repository(record, text: str) -> bool:
    """Return whether a record belongs to the repository named like `docker images REPO[:TAG]` does."""
    from ..reference import Reference

    if record.name is None:
        return False
    ref = Reference.parse(text)
    if record.name.name != ref.name:
        return False
    return ref.tag is None or record.name.tag == ref.tag


@command("inspect", "Return low-level information on images (and containers)")
def _inspect(p):
    p.add_argument("names", nargs="+", metavar="NAME")

    def run(ctx):
        from ..inspection import inspect_any

        # docker prints whatever it found as a JSON array, then fails for the rest
        found, errors = [], []
        lab = ctx.lab
        for name in ctx.args.names:
            try:
                found.append(inspect_any(lab.store, lab.layers, lab.containers, name))
            except Exception as e:  # noqa: BLE001 - collected, reported below like docker
                from ..errors import LabkitError

                if not isinstance(e, LabkitError):
                    raise
                errors.append(e)
        ctx.print(json.dumps(found, indent=4))
        for e in errors:
            ctx.err.write(f"Error: {' '.join(str(e).split())}\n")
        return 1 if errors else 0
    return run, False


@command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
def _tag(p):
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")

    def run(ctx):
        ctx.lab.tag(ctx.args.source, ctx.args.target)
    return run, False


@command("rmi", "Remove one or more images")
def _rmi(p):
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("images", nargs="+", metavar="IMAGE")

    def run(ctx):
        return ctx.each(ctx.args.images, lambda name: ctx.lab.rmi(name, force=ctx.args.force))
    return run, False


@command("system", "Manage labkit (system df: show disk usage)")
def _system(p):
    sub = p.add_subparsers(dest="system_command", metavar="COMMAND", required=True)
    df = sub.add_parser("df", help="Show disk usage")
    df.add_argument("-v", "--verbose", action="store_true", help="show detailed information on space usage")
    df.add_argument("--format", choices=["table", "json"], default="table")

    def run(ctx):
        from .. import tables
        from ..clock import now

        usage = ctx.lab.system_df()
        if ctx.args.format == "json":
            ctx.json_lines(tables.system_df_json(usage, now(), verbose=ctx.args.verbose))
        else:
            ctx.out.write(tables.system_df_table(usage, now(), verbose=ctx.args.verbose))
    return run, False

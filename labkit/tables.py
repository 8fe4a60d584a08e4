"""Docker's output for image lists, image history, containers and disk usage: tabwriter tables and JSON-lines rows with docker's keys."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Sequence

from .errors import LabkitError
from .formatting import ellipsis, human_size, time_ago

# docker 1.x (the lab text's era): tabwriter.NewWriter(out, 20, 1, 3, ' ', 0) -- a column is as wide as its
# longest cell plus 3 spaces of padding, and at least 20 characters.
MIN_WIDTH = 20
PADDING = 3
NONE = "<none>"
HISTORY_CREATED_BY = 45  # docker history cuts CREATED BY to 45 characters with an ellipsis unless --no-trunc


def tabwrite(rows: Sequence[Sequence[str]], minwidth: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Return `rows` laid out like Go's text/tabwriter: every cell but a line's last padded to its column."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = []
    for j in range(ncols - 1):
        cells = [len(r[j]) for r in rows if j < len(r) - 1]  # a line's last cell is not part of a column
        widths.append(max([minwidth] + [c + padding for c in cells]))
    lines = []
    for r in rows:
        lines.append("".join(cell.ljust(widths[j]) if j < len(r) - 1 else cell for j, cell in enumerate(r)))
    return "\n".join(lines) + "\n"


def _created_since(created: "datetime | None", now: datetime) -> str:
    return time_ago(created, now) if created is not None else "N/A"


def _created_at(created: "datetime | None") -> str:
    """Return a time as Go's time.String prints it in docker's JSON: '2016-09-23 17:20:10 +0000 UTC'."""
    if created is None:
        return ""
    return created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _size(size: int) -> str:
    """Return a size cell; "N/A" for an unknown size (-1, a layer is missing or corrupt)."""
    return human_size(size) if size >= 0 else "N/A"


def _image_id(image_id, no_trunc: bool) -> str:
    return str(image_id) if no_trunc else image_id.short


def _digest_rows(rec, digests: bool) -> list[str]:
    """Return the DIGEST cells of a record's rows: one row per repo digest with --digests."""
    if digests and rec.digests:
        return [str(d) for d in rec.digests]
    return [NONE]


def images_table(records: Iterable, now: datetime, digests: bool = False, no_trunc: bool = False) -> str:
    """Return `docker images` output: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE."""
    header = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    rows = [header]
    for rec in records:
        tail = [_image_id(rec.image_id, no_trunc), _created_since(rec.created, now), _size(rec.size)]
        for d in _digest_rows(rec, digests):
            rows.append([rec.repository, rec.tag] + ([d] if digests else []) + tail)
    return tabwrite(rows)


def images_json(records: Iterable, now: datetime, no_trunc: bool = False) -> list[dict]:
    """Return one dict per row with the keys of `docker images --format json`."""
    out = []
    for rec in records:
        size = _size(rec.size)
        out.append({
            "Containers": "N/A",
            "CreatedAt": _created_at(rec.created),
            "CreatedSince": _created_since(rec.created, now),
            "Digest": str(rec.digest) if rec.digest is not None else NONE,
            "ID": _image_id(rec.image_id, no_trunc),
            "Repository": rec.repository,
            "SharedSize": "N/A",
            "Size": size,
            "Tag": rec.tag,
            "UniqueSize": "N/A",
            "VirtualSize": size,
        })
    return out


def _reclaimable(reclaimable: int, total: int) -> str:
    """Return docker's RECLAIMABLE cell: '11.6 MB (70%)' (integer percent, truncated)."""
    if total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


def _summary_rows(df: dict) -> list[tuple[str, dict]]:
    totals = df["totals"]
    return [("Images", totals["images"]), ("Containers", totals["containers"])]


def system_df_table(df: dict, now: datetime, verbose: bool = False) -> str:
    """Return `docker system df` output (with `verbose`, the -v sections) for Store.system_df()'s dict."""
    if not verbose:
        rows = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]]
        for kind, t in _summary_rows(df):
            rows.append([kind, str(t["total"]), str(t["active"]), human_size(t["size"]),
                         _reclaimable(t["reclaimable"], t["size"])])
        return tabwrite(rows)
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for i in df["images"]:
        rows.append([i["repository"], i["tag"], i["image_id"].short, _created_since(i["created"], now),
                     human_size(i["size"]), human_size(i["shared_size"]), human_size(i["unique_size"]),
                     str(i["containers"])])
    out = "Images space usage:\n\n" + tabwrite(rows)
    crows = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    for c in df.get("containers", []):
        created = c.get("created")
        crows.append([str(c.get("id", ""))[:12], str(c.get("image", "")), f'"{c.get("command", "")}"', "0",
                      human_size(int(c.get("size", 0) or 0)),
                      _created_since(created, now) if isinstance(created, datetime) else "N/A",
                      str(c.get("status", "")), str(c.get("name", ""))])
    out += "\nContainers space usage:\n\n" + tabwrite(crows)
    return out


def system_df_json(df: dict, now: datetime, verbose: bool = False) -> list[dict]:
    """Return `docker system df --format json` rows (Type, TotalCount, Active, Size, Reclaimable); with
    `verbose`, one row per image with the keys of `docker images --format json`, sizes filled in."""
    if not verbose:
        return [{"Active": str(t["active"]), "Reclaimable": _reclaimable(t["reclaimable"], t["size"]),
                 "Size": human_size(t["size"]), "TotalCount": str(t["total"]), "Type": kind}
                for kind, t in _summary_rows(df)]
    out = []
    for i in df["images"]:
        out.append({
            "Containers": str(i["containers"]),
            "CreatedAt": _created_at(i["created"]),
            "CreatedSince": _created_since(i["created"], now),
            "Digest": str(i["digest"]) if i.get("digest") is not None else NONE,
            "ID": i["image_id"].short,
            "Repository": i["repository"],
            "SharedSize": human_size(i["shared_size"]),
            "Size": human_size(i["size"]),
            "Tag": i["tag"],
            "UniqueSize": human_size(i["unique_size"]),
            "VirtualSize": human_size(i["size"]),
        })
    return out


# --- ps ---------------------------------------------------------------------------------------------------

def _quoted_command(command: str, no_trunc: bool) -> str:
    """Return the COMMAND cell as docker prints it: cut to 20 characters, then quoted like Go's strconv.Quote."""
    import json

    return json.dumps(command if no_trunc else ellipsis(command, 20), ensure_ascii=False)


def ps_table(manager, containers: Iterable, now: datetime, sizes: bool = False, no_trunc: bool = False) -> str:
    """Return `docker ps` output (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES[, SIZE])."""
    from .containers import size_text
    from .clock import parse_time

    header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"] + (["SIZE"] if sizes else [])
    rows = [header]
    for c in containers:
        row = [c.id if no_trunc else c.short_id, c.image, _quoted_command(" ".join(c.cmd), no_trunc),
               time_ago(parse_time(c.config["created"]), now), c.status(now), "", c.name]
        if sizes:
            row.append(size_text(*manager.sizes(c)))
        rows.append(row)
    return tabwrite(rows)


def ps_json(manager, containers: Iterable, now: datetime, sizes: bool = False) -> list[dict]:
    """Return `docker ps --format json` rows with docker's keys."""
    from .containers import size_text
    from .clock import parse_time

    out = []
    for c in containers:
        created = parse_time(c.config["created"])
        row = {"ID": c.short_id, "Image": c.image, "Command": _quoted_command(" ".join(c.cmd), False),
               "CreatedAt": _created_at(created), "RunningFor": time_ago(created, now), "Status": c.status(now),
               "State": c.state.lower(), "Names": c.name, "Ports": "", "Labels": "", "Mounts": "", "Networks": ""}
        if sizes:
            row["Size"] = size_text(*manager.sizes(c))
        out.append(row)
    return out


# --- history ----------------------------------------------------------------------------------------------

def history(store, record) -> list[dict]:
    """Return `docker history` rows, newest first: {"id": image ID or "<missing>", "created", "created_by",
    "size", "comment", "empty_layer"}. A row shows an image ID when a local image has that step as its top
    (same layers, same number of history steps): the image itself, and parents it was committed from."""
    from .clock import parse_time
    from .oci import chain_ids

    cfg = store.config(record)
    items = cfg.layer_history()
    chains = chain_ids(cfg.diff_ids)
    sizes = [_layer_size(store, record, i) for i in range(len(cfg.diff_ids))]
    tops: dict = {}
    for rec in store.images():
        if rec.image_id in tops.values():
            continue
        try:
            other = store.config(rec)
        except LabkitError:
            continue
        key = (str(other.chain_ids[-1]) if other.diff_ids else "", len(other.layer_history()))
        tops.setdefault(key, rec.image_id)
    rows = []
    layers_so_far = 0
    for n, item in enumerate(items):
        if not item.empty_layer:
            layers_so_far = item.index + 1
        chain = str(chains[layers_so_far - 1]) if layers_so_far else ""
        image_id = tops.get((chain, n + 1))
        created = item.entry.get("created")
        try:
            when = parse_time(created) if isinstance(created, str) else None
        except ValueError:
            when = None
        rows.append({"id": str(image_id) if image_id is not None else "<missing>", "created": when,
                     "created_by": item.created_by, "size": 0 if item.empty_layer else sizes[item.index],
                     "comment": item.entry.get("comment") or "", "empty_layer": item.empty_layer})
    if rows:
        rows[-1]["id"] = str(record.image_id)
    return list(reversed(rows))


def _layer_size(store, record, i: int) -> int:
    try:
        m = store.manifest(record)
        cfg = store.config(record)
        return store.layer_size(cfg.diff_ids[i], m.layers[i].digest)
    except (LabkitError, IndexError):
        return 0


def history_table(rows: list[dict], now=None, no_trunc: bool = False) -> str:
    """Return `docker history` output: IMAGE CREATED CREATED BY SIZE COMMENT."""
    from .clock import now as clock_now
    from .digest import Digest

    now = now or clock_now()
    out = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    for r in rows:
        image = r["id"]
        if image != "<missing>" and not no_trunc:
            image = Digest.parse(image).short
        created_by = r["created_by"].replace("\t", " ")
        out.append([image, time_ago(r["created"], now) if r["created"] else "N/A",
                    created_by if no_trunc else ellipsis(created_by, HISTORY_CREATED_BY), human_size(r["size"]), r["comment"]])
    return tabwrite(out)

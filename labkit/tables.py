"""Docker's output for images, disk usage, containers and history: tables, `--format` templates and JSON rows,
in either Docker's look.

Two looks (`Style`), chosen by the image store a command plays:
- LAB_TEXT, the lab text's Docker (graphdriver store): tabwriter columns at least 20 wide, sizes "1.11 MB"
  (go-units before v0.4, as Docker 1.13 vendored it), `system df` sizes with 4 digits ("8.601 MB", HumanSize)
  and three types (Docker 1.13 cli/command/formatter/disk_usage.go: Images, Containers, Local Volumes);
- DOCKER29, Docker Engine 29 (containerd store): columns at least 10 wide, sizes "1.11MB" (go-units since
  v0.4, which every Docker since 19.03 uses), `system df` sizes with 4 digits ("1.113MB", go-units
  HumanSize).
Rows are gotemplate Structs with docker/cli's field names (cli/command/formatter: image.go, container.go,
disk_usage.go; cli/command/image/formatter_history.go), so `--format` templates see what Docker's see; the
default tables are Docker's default templates run through the same formatter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

from .formatter import LEGACY_MIN_WIDTH, MIN_WIDTH, PADDING, render, tabwrite, tabwrite_text
from .errors import LabkitError
from .formatting import ellipsis, human_size, time_ago
from .gotemplate import Method, Stringer, Struct

NONE = "<none>"
UNTAGGED = "<untagged>"

__all__ = ["DOCKER29", "LAB_TEXT", "NONE", "PADDING", "Style", "tabwrite", "tabwrite_text"]


@dataclass(frozen=True)
class Style:
    """How one Docker writes its tables and sizes."""

    name: str
    minwidth: int        # tabwriter minimum column width
    sep: str             # between a size's number and its unit
    df_precision: int    # significant digits of `system df` sizes (go-units HumanSize)

    def size(self, n: int) -> str:
        """Return a size as `images`, `ps -s` and `history` print it (HumanSizeWithPrecision(n, 3))."""
        return human_size(n, 3, self.sep) if n >= 0 else "N/A"

    def human(self, n: int) -> str:
        """Return a size as `system df` prints it (go-units HumanSize)."""
        return human_size(n, self.df_precision, self.sep)


LAB_TEXT = Style("lab text", LEGACY_MIN_WIDTH, " ", 4)
DOCKER29 = Style("docker 29", MIN_WIDTH, "", 4)


def style_for(containerd: bool) -> Style:
    """Return Docker 29's look for the containerd image store, the lab text's for the graphdriver one."""
    return DOCKER29 if containerd else LAB_TEXT


def _created_since(created: "datetime | None", now: datetime) -> str:
    return time_ago(created, now) if created is not None else "N/A"


def go_time(created: "datetime | None") -> str:
    """Return a time as Go's time.String prints it in docker's JSON: '2016-09-23 17:20:10 +0000 UTC'."""
    if created is None:
        return ""
    return created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def truncate_id(text: str) -> str:
    """Return docker's TruncateID: the 12 first hex digits, without "sha256:"."""
    return text.split(":")[-1][:12]


# --- images: rows ------------------------------------------------------------------------------------------

@dataclass
class ImageRow:
    """One line of `docker images`: an image under one repository, tag and digest."""

    image: object        # imageservice.ImageSummary
    repository: str
    tag: str
    digest: str


def image_rows(summaries: Iterable, digests: bool = False, need_digest: bool = False) -> list[ImageRow]:
    """Return the rows docker/cli's formatter.imageFormat makes of image summaries: a dangling image is one
    <none> row; else a row per repository:tag (one per repo digest when `need_digest`: --digests or a
    format naming {{.Digest}}), then a row per repository known only by digest (one per digest with
    `digests`). Images in the order given (the daemon's: newest first), an image's rows by repository."""
    rows = []
    for s in summaries:
        first = len(rows)
        if not s.repo_tags and not s.repo_digests:
            rows.append(ImageRow(s, NONE, NONE, NONE))
            continue
        tags: dict = {}
        for text in s.repo_tags:
            repo, _, tag = text.rpartition(":")
            tags.setdefault(repo, []).append(tag)
        by_repo: dict = {}
        for text in s.repo_digests:
            repo, _, d = text.partition("@")
            by_repo.setdefault(repo, []).append(d)
        for repo, repo_tags in tags.items():
            ds = by_repo.pop(repo, [])  # a repository's digests never get rows of their own
            if not need_digest:
                ds = []
            for tag in repo_tags:
                if not ds:
                    rows.append(ImageRow(s, repo, tag, NONE))
                for d in ds:
                    rows.append(ImageRow(s, repo, tag, d))
        for repo, ds in by_repo.items():
            if digests:
                rows += [ImageRow(s, repo, NONE, d) for d in ds]
            else:
                rows.append(ImageRow(s, repo, NONE, ""))
        # docker walks Go maps here (any order); labkit sorts an image's rows so outputs are stable
        rows[first:] = sorted(rows[first:], key=lambda r: (r.repository, r.tag == NONE, r.tag))

    return rows


IMAGE_HEADER = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
                "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
                "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
IMAGE_TABLE_DIGESTS = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                       "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
QUIET = "{{.ID}}"


def image_struct(row: ImageRow, now: datetime, style: Style, trunc: bool = True, shared_size: int = -1,
                 containers: "int | None" = None) -> Struct:
    """Return one `images` row as docker's *formatter.imageContext (the lab text's Docker also has the
    deprecated VirtualSize)."""
    s = row.image
    image_id = str(s.id)
    count = s.containers if containers is None else containers
    fields = {
        "ID": truncate_id(image_id) if trunc else image_id,
        "Repository": row.repository,
        "Tag": row.tag,
        "Digest": row.digest,
        "CreatedSince": _created_since(s.created, now),
        "CreatedAt": go_time(s.created),
        "Size": lambda: style.size(s.size),
        "Containers": "N/A" if count < 0 else str(count),
        "SharedSize": "N/A" if shared_size < 0 else style.human(shared_size),
        "UniqueSize": lambda: "N/A" if shared_size < 0 or s.size < 0 else style.human(s.size - shared_size),
    }
    if style is LAB_TEXT:
        fields["VirtualSize"] = fields["Size"]
    return Struct("*formatter.imageContext", fields)


def image_format(fmt: "str | None", quiet: bool, digests: bool) -> str:
    """Return the template `images` runs (formatter.NewImageFormat): the default table, the quiet one, or
    the user's format (a table gets a DIGEST column with --digests)."""
    if not fmt or fmt == "table":
        return QUIET if quiet else IMAGE_TABLE_DIGESTS if digests else IMAGE_TABLE
    if fmt.startswith("table") and digests and "{{.Digest}}" not in fmt:
        fmt += "\t{{.Digest}}"
    return fmt


def images_output(summaries: Iterable, now: datetime, style: Style, fmt: "str | None" = None,
                  digests: bool = False, no_trunc: bool = False, quiet: bool = False) -> str:
    """Return `docker images` in the legacy table (or a --format) for image summaries."""
    template = image_format(fmt, quiet, digests)
    rows = image_rows(summaries, digests, digests or "{{.Digest}}" in template)
    structs = [image_struct(r, now, style, trunc=not no_trunc) for r in rows]
    header = dict(IMAGE_HEADER, **({"VirtualSize": "SIZE"} if style is LAB_TEXT else {}))
    return render(template, structs, header, style.minwidth)


def graphdriver_summaries(records: Iterable) -> list:
    """Return the graphdriver store's image summaries of ImageRecords (grouped by config digest)."""
    from .imageservice import graphdriver_summaries as summaries

    return summaries(list(records))


def images_table(records: Iterable, now: datetime, digests: bool = False, no_trunc: bool = False) -> str:
    """Return the lab text's `docker images` for ImageRecords: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE."""
    return images_output(graphdriver_summaries(records), now, LAB_TEXT, digests=digests, no_trunc=no_trunc)


# --- images: Docker 29's tree views (cli/command/image/tree.go) --------------------------------------------

_COLUMN_SPACING = 3


@dataclass
class TreeDetails:
    """The cells of one tree row after the name (tree.go imageDetails)."""

    id: str
    disk_usage: str
    in_use: bool
    content_size: str


@dataclass
class TreeImage:
    """One image of the tree (tree.go topImage): its names, its cells, its platform rows (subImage)."""

    names: list
    details: TreeDetails
    children: list = None   # [(platform, available, TreeDetails)]


def tree_view(summaries: Iterable, style: Style, expanded: bool = False) -> "tuple[list[TreeImage], bool]":
    """Return (the tree's images, whether images get a blank line after them) for image summaries (tree.go
    runTree): collapsed, one image per tag; expanded, one per image with all its names and a child per
    platform. An image is in use when a container uses it or one of its platforms. Sorted by name,
    untagged last."""
    images = []
    spacing = False
    for s in summaries:
        in_use = s.containers > 0
        children = []
        for m in s.manifests:
            if m.kind != "image":
                continue
            if m.containers:
                in_use = True
            if expanded:
                children.append((m.platform, m.available,
                                 TreeDetails(str(m.id), style.size(m.total_size), bool(m.containers),
                                             style.size(m.content_size))))
                spacing = True
        details = TreeDetails(str(s.id), style.size(s.size), in_use, style.size(s.content_size))
        names = sorted(s.repo_tags)
        created = s.created.timestamp() if s.created else float("-inf")
        if expanded:
            images.append((TreeImage(names, details, children), created, str(s.id)))
        elif not names:
            images.append((TreeImage([], details, []), created, str(s.id)))
        else:
            images += [(TreeImage([n], details, []), created, str(s.id)) for n in names]
    images.sort(key=lambda i: (not i[0].names, i[0].names[0] if i[0].names else "", -i[1], i[2]))
    return [i[0] for i in images], spacing


def images_tree(summaries: Iterable, style: Style, expanded: bool = False, width: "int | None" = None) -> str:
    """Return Docker 29's image tree: collapsed (bare `docker images`) or expanded (`--tree`); `width`: the
    terminal's columns, None when the output is no terminal."""
    images, spacing = tree_view(summaries, style, expanded)
    return print_tree(images, spacing, width)


def _fit(text: str, width: int, right: bool = False, ellipsize: bool = True) -> str:
    """Return `text` padded to `width` (tree.go's imgColumn.PrintL/PrintR), cut with "…" when longer."""
    if len(text) > width:
        if not ellipsize:
            return text
        return text[:width - 1] + "…" if width > 1 else text[:width]
    pad = " " * (width - len(text))
    return pad + text if right else text + pad


def print_tree(images: list, spacing: bool, width: "int | None" = None) -> str:
    """Return the tree as docker/cli's printImageTree writes it with no colors: the legend "Info -> U In
    Use" right-aligned only on a terminal (`width` columns); columns IMAGE, ID, DISK USAGE, CONTENT SIZE,
    EXTRA three spaces apart, the first as wide as the widest name, the U column only when an image is in
    use; with a narrow terminal the columns that do not fit are dropped."""
    def children(img: TreeImage) -> list:
        return img.children or []

    possible_u = any(i.details.in_use or any(d.in_use for _, _, d in children(i)) for i in images)
    columns = [["Image", 0, False], ["ID", 12, False], ["Disk usage", 10, True], ["Content size", 12, True],
               ["Extra", max(len("Extra"), 1 if possible_u else 0), False]]
    name_width = width or 0
    if name_width:
        for idx, col in enumerate(columns[1:], start=1):
            d = col[1] + _COLUMN_SPACING
            if name_width - d < 12:  # the names would get too narrow: drop this column and the rest
                columns = columns[:idx]
                break
            name_width -= d
    widest = len("Image")
    for img in images:
        for n in img.names or [UNTAGGED]:
            widest = max(widest, len(n))
        for platform, _, _ in children(img):
            # tree.go measures the branch in bytes ("└─ " is 7), so the column is 4 wider than it shows
            widest = max(widest, len(platform) + len("└─ ".encode()))
    if not width or name_width > widest:
        name_width = widest
    columns[0][1] = name_width

    def cells(d: TreeDetails) -> str:
        values = [truncate_id(d.id), d.disk_usage, d.content_size, ("U" if d.in_use else " ") if possible_u else ""]
        return "".join(" " * _COLUMN_SPACING + _fit(v, w, right) for (_, w, right), v in zip(columns[1:], values))

    out = []
    if width:
        legend = " Info ->  U In Use"
        out.append(" " * max(width - len(legend), 0) + legend + "\n")
    out.append((" " * _COLUMN_SPACING).join(_fit(t.upper(), w, right) for t, w, right in columns) + "\n")
    for img in images:
        text = "" if img.names else _fit(UNTAGGED, name_width)
        for i, name in enumerate(img.names):
            last = i == len(img.names) - 1
            multiline = len(name) > name_width
            text += _fit(name, name_width, ellipsize=False)
            if not last or multiline:
                text += "\n"
            if multiline and last:
                text += " " * name_width
        text += cells(img.details)
        if children(img) or spacing:
            text += "\n"
        for i, (platform, _available, d) in enumerate(children(img)):
            branch = "└─ " if i == len(children(img)) - 1 else "├─ "
            text += _fit(branch + platform, name_width) + cells(d) + "\n"
        out.append(text + "\n")
    return "".join(out)


# --- system df ------------------------------------------------------------------------------------------------

DF_HEADER = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
             "Reclaimable": "RECLAIMABLE"}
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_IMAGES_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t"
                   "{{.UniqueSize}}\t{{.Containers}}")
DF_CONTAINERS_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t"
                       "{{.Status}}\t{{.Names}}")


def _reclaimable(style: Style, reclaimable: int, total: int) -> str:
    """Return docker's RECLAIMABLE cell: '11.63 MB (70%)' (integer percent, truncated)."""
    if total > 0:
        return f"{style.human(reclaimable)} ({reclaimable * 100 // total}%)"
    return style.human(reclaimable)


def _df_struct(kind: str, style: Style, total: int, active: int, size: int, reclaimable: int,
               percent: bool = True) -> Struct:
    type_name = {"Images": "*formatter.diskUsageImagesContext", "Containers": "*formatter.diskUsageContainersContext",
                 "Local Volumes": "*formatter.diskUsageVolumesContext",
                 "Build Cache": "*formatter.diskUsageBuilderContext"}[kind]
    return Struct(type_name, {
        "Type": kind, "TotalCount": str(total), "Active": str(active), "Size": style.human(size),
        "Reclaimable": _reclaimable(style, reclaimable, size) if percent else style.human(reclaimable)})


def disk_usage_summary(df: dict, style: Style) -> list:
    """Return the `system df` rows (one Struct per type) of a disk-usage dict (DiskUsage below): Local Volumes
    zero (labkit has no volumes), and in Docker 29 the Build Cache (its sizes without a percentage: docker/cli
    formatter/disk_usage.go diskUsageBuilderContext)."""
    t = df["totals"]
    rows = [_df_struct("Images", style, t["images"]["total"], t["images"]["active"], t["images"]["size"],
                       t["images"]["reclaimable"]),
            _df_struct("Containers", style, t["containers"]["total"], t["containers"]["active"],
                       t["containers"]["size"], t["containers"]["reclaimable"])]
    rows.append(_df_struct("Local Volumes", style, 0, 0, 0, 0))
    if style is DOCKER29:  # the build cache's row came with Docker 17.07
        b = t.get("build_cache") or {"total": 0, "active": 0, "size": 0, "reclaimable": 0}
        rows.append(_df_struct("Build Cache", style, b["total"], b["active"], b["size"], b["reclaimable"],
                               percent=False))
    return rows


def _df_image_structs(df: dict, now: datetime, style: Style, trunc: bool) -> list:
    from .imageservice import ImageSummary

    out = []
    for i in df["images"]:
        summary = i.get("summary") or ImageSummary(i["image_id"], [], [], i["created"], i["size"], i["containers"])
        row = ImageRow(summary, i["repository"], i["tag"], "")  # docker's df rows leave Digest empty
        out.append(image_struct(row, now, style, trunc=trunc, shared_size=i["shared_size"],
                                containers=i["containers"]))
    return out


def _df_container_structs(df: dict, now: datetime, style: Style, trunc: bool) -> list:
    out = []
    for c in df.get("containers", []):
        created = c.get("created")
        out.append(Struct("*formatter.ContainerContext", {
            "ID": truncate_id(str(c.get("id", ""))) if trunc else str(c.get("id", "")),
            "Image": str(c.get("image", "")),
            "Command": quote_command(str(c.get("command", "")), not trunc),
            "LocalVolumes": "0",
            "Size": style.size(int(c.get("size", 0) or 0)),
            "RunningFor": _created_since(created, now) if isinstance(created, datetime) else "N/A",
            "CreatedAt": go_time(created) if isinstance(created, datetime) else "",
            "Status": str(c.get("status", "")),
            "State": str(c.get("state", "")),
            "Names": str(c.get("name", "")),
            "Labels": "", "Mounts": "", "Networks": "", "Ports": ""}))
    return out


def _df_build_cache_structs(df: dict, now: datetime, style: Style) -> list:
    """Return the build cache rows of `system df -v` (docker/cli formatter/buildcache.go: sorted by LAST USED,
    never used first, then ID; the ID cut to 12 characters, "*" when in use; SIZE with 3 digits)."""
    far = datetime.min.replace(tzinfo=timezone.utc)
    items = sorted(df.get("build_cache", []), key=lambda i: (i["last_used"] is not None, i["last_used"] or far,
                                                            i["id"]))
    out = []
    for i in items:
        out.append(Struct("*formatter.buildCacheContext", {
            "ID": i["id"][:12] + ("*" if i["in_use"] else ""), "CacheType": i["type"], "Size": style.size(i["size"]),
            "CreatedSince": time_ago(i["created"], now),
            "LastUsedSince": time_ago(i["last_used"], now) if i["last_used"] is not None else "",
            "UsageCount": str(i["usage"]), "Shared": "true" if i["shared"] else "false",
            "InUse": "true" if i["in_use"] else "false"}))
    return out


def system_df_output(df: dict, now: datetime, style: Style, verbose: bool = False,
                     fmt: "str | None" = None) -> str:
    """Return `docker system df [-v] [--format]` for a disk-usage dict."""
    if not verbose:
        template = DF_TABLE if not fmt or fmt == "table" else fmt
        return render(template, disk_usage_summary(df, style), DF_HEADER, style.minwidth)
    if fmt and fmt != "table":  # docker runs a -v format once, on {Images, Containers, Volumes, BuildCache}
        from .formatter import parse_format
        from .errors import CliError
        from .gotemplate import TemplateError

        data = Struct("*formatter.diskUsageContext", {
            "Images": _df_image_structs(df, now, style, False),
            "Containers": _df_container_structs(df, now, style, False), "Volumes": [],
            "BuildCache": _df_build_cache_structs(df, now, style)})
        try:
            return parse_format(fmt).execute(data)
        except TemplateError as e:
            raise CliError(f"template parsing error: {e}") from None
    header = dict(IMAGE_HEADER)
    out = "Images space usage:\n\n" + render(DF_IMAGES_TABLE, _df_image_structs(df, now, style, True), header,
                                              style.minwidth)
    out += "\nContainers space usage:\n\n" + render(DF_CONTAINERS_TABLE, _df_container_structs(df, now, style, True),
                                                    PS_HEADER, style.minwidth)
    out += "\nLocal Volumes space usage:\n\n" + render("table {{.Name}}\t{{.Links}}\t{{.Size}}", [],
                                                       {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"},
                                                       style.minwidth)
    if style is DOCKER29:
        total = (df["totals"].get("build_cache") or {}).get("size", 0)
        out += f"\nBuild cache usage: {style.human(total)}\n\n" + render(
            "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t"
            "{{.Shared}}", _df_build_cache_structs(df, now, style), {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE",
                                "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE",
                                "Shared": "SHARED"}, style.minwidth)
    return out


def system_df_table(df: dict, now: datetime, verbose: bool = False, style: Style = LAB_TEXT) -> str:
    """Return `docker system df` output (with `verbose`, the -v sections) for Store.system_df()'s dict."""
    return system_df_output(df, now, style, verbose)


def system_df_json(df: dict, now: datetime, verbose: bool = False, style: Style = LAB_TEXT) -> list[dict]:
    """Return `docker system df --format json` rows (Type, TotalCount, Active, Size, Reclaimable); with
    `verbose`, one row per image with the keys of `docker images --format json`, sizes filled in."""
    structs = _df_image_structs(df, now, style, False) if verbose else disk_usage_summary(df, style)
    return [s.marshal() for s in structs]


# --- ps ---------------------------------------------------------------------------------------------------

PS_HEADER = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
             "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
             "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
             "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
             "HealthStatus": "HEALTH STATUS"}
PS_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def quote_command(command: str, no_trunc: bool) -> str:
    """Return the COMMAND cell as docker prints it: cut to 20 characters, then quoted like Go's strconv.Quote."""
    import json

    return json.dumps(command if no_trunc else ellipsis(command, 20), ensure_ascii=False)


def ps_struct(manager, c, now: datetime, style: Style, trunc: bool = True, platform: "str | None" = None) -> Struct:
    """Return one container as docker's *formatter.ContainerContext. Size is measured only when a template
    reads it (docker asks the daemon for sizes only then, too); `platform` ("linux/amd64") is the image
    manifest's, which only the containerd store reports."""
    from .clock import parse_time

    created = parse_time(c.config["created"])

    def size() -> str:
        rw, virtual = manager.sizes(c)
        return f"{style.size(rw)} (virtual {style.size(virtual)})" if virtual > 0 else style.size(rw)

    plat = None
    if platform:
        parts = platform.split("/")
        value = {"architecture": parts[1], "os": parts[0]}
        if len(parts) > 2:
            value["variant"] = parts[2]
        plat = Stringer(platform, value)
    labels = dict((c.config.get("labels") or {}))
    return Struct("*formatter.ContainerContext", {
        "ID": c.short_id if trunc else c.id,
        "Names": c.name,
        "Image": c.image or "<no image>",
        "Command": quote_command(c.command_line, not trunc),
        "CreatedAt": go_time(created),
        "RunningFor": time_ago(created, now),
        "Platform": plat,
        "Ports": "",
        "State": c.state.lower(),
        "Status": lambda: c.status(now),
        "Size": size,
        "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
        "Label": Method(lambda name: labels.get(name, ""), 1),
        "Mounts": "",
        "LocalVolumes": "0",
        "Networks": "",
        "HealthStatus": "",
    })


def ps_format(fmt: "str | None", quiet: bool, sizes: bool) -> str:
    """Return the template `ps` runs (formatter.NewContainerFormat)."""
    if not fmt or fmt == "table":
        return QUIET if quiet else PS_TABLE + ("\t{{.Size}}" if sizes else "")
    return QUIET if quiet else fmt


def ps_output(manager, containers: Iterable, now: datetime, style: Style, fmt: "str | None" = None,
              sizes: bool = False, no_trunc: bool = False, quiet: bool = False, platforms=None) -> str:
    """Return `docker ps` (the table, -q, or a --format) for containers."""
    platforms = platforms or {}
    structs = [ps_struct(manager, c, now, style, trunc=not no_trunc, platform=platforms.get(c.id))
               for c in containers]
    return render(ps_format(fmt, quiet, sizes), structs, PS_HEADER, style.minwidth)


def ps_table(manager, containers: Iterable, now: datetime, sizes: bool = False, no_trunc: bool = False,
             style: Style = LAB_TEXT) -> str:
    """Return `docker ps` output (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES[, SIZE])."""
    return ps_output(manager, containers, now, style, sizes=sizes, no_trunc=no_trunc)


def ps_json(manager, containers: Iterable, now: datetime, sizes: bool = False, style: Style = LAB_TEXT) -> list[dict]:
    """Return `docker ps --format json` rows with docker's keys."""
    return [ps_struct(manager, c, now, style).marshal() for c in containers]


# --- history (cli/command/image/formatter_history.go) ---------------------------------------------------

HISTORY_CREATED_BY = 45  # docker history cuts CREATED BY to 45 characters with an ellipsis unless --no-trunc


def history(store, record, sizes: "list[int] | None" = None) -> list[dict]:
    """Return `docker history` rows, newest first: {"id", "created", "created_by", "size", "comment",
    "empty_layer"}; "id" is the image's ID (config digest) on the top row and "<missing>" below it (the
    rows of parent images are named by Lab.history, which knows the parents: ImageService.history_ids).
    `sizes`: each layer's SIZE (default: its files, Store.layer_files_size)."""
    from .clock import parse_time

    cfg = store.config(record)
    if sizes is None:
        sizes = [_layer_size(store, record, i) for i in range(len(cfg.diff_ids))]
    rows = []
    for item in cfg.layer_history():
        created = item.entry.get("created")
        try:
            when = parse_time(created) if isinstance(created, str) else None
        except ValueError:
            when = None
        rows.append({"id": "<missing>", "created": when, "created_by": item.created_by,
                     "size": 0 if item.empty_layer else sizes[item.index],
                     "comment": item.entry.get("comment") or "", "empty_layer": item.empty_layer})
    if rows:
        rows[-1]["id"] = str(record.image_id)
    return list(reversed(rows))


def _layer_size(store, record, i: int) -> int:
    try:
        m = store.manifest(record)
        cfg = store.config(record)
        return store.layer_files_size(cfg.diff_ids[i], m.layers[i].digest)
    except (LabkitError, IndexError):
        return 0


def history_table(rows: list[dict], now=None, no_trunc: bool = False) -> str:
    """Return the lab text's `docker history` output: IMAGE CREATED CREATED BY SIZE COMMENT."""
    from .clock import now as clock_now

    return history_output(rows, now or clock_now(), LAB_TEXT, no_trunc=no_trunc)


HISTORY_HEADER = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
                  "Size": "SIZE", "Comment": "COMMENT"}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NON_HUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)  # before it, CREATED reads N/A


def history_struct(row: dict, now: datetime, style: Style, trunc: bool = True, human: bool = True) -> Struct:
    """Return one `history` row (labkit.commit.history's dicts) as docker's *image.historyContext."""
    created = row["created"]
    created_at = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if created else \
        "1970-01-01T00:00:00Z"

    def since() -> str:
        if not human:
            return created_at
        return "N/A" if created is None or created <= _EPOCH_2000 else time_ago(created, now)

    created_by = row["created_by"].replace("\t", " ")
    image = row["id"]
    return Struct("*image.historyContext", {
        "ID": truncate_id(image) if trunc and image != "<missing>" else image,
        "CreatedAt": created_at,
        "CreatedSince": since,
        "CreatedBy": ellipsis(created_by, HISTORY_CREATED_BY) if trunc else created_by,
        "Size": style.size(row["size"]) if human else str(row["size"]),
        "Comment": row["comment"],
    })


def history_output(rows: Sequence[dict], now: datetime, style: Style, fmt: "str | None" = None,
                   no_trunc: bool = False, quiet: bool = False, human: bool = True) -> str:
    """Return `docker history` (the table, -q, or a --format) for history rows."""
    if not fmt or fmt == "table":
        template = QUIET if quiet else HISTORY_TABLE if human else HISTORY_TABLE_NON_HUMAN
    else:
        template = fmt
    structs = [history_struct(r, now, style, trunc=not no_trunc, human=human) for r in rows]
    return render(template, structs, HISTORY_HEADER, style.minwidth)

#!/usr/bin/env python3
"""Serve a built site on 127.0.0.1, as any static web host would.

    python3 lite/serve.py [SITE] [--port 8000]      (`make lite-serve`; --port 0 picks a free port)

SITE defaults to the folder this script is in when it holds a site (lite/build.py puts a copy of this
script in the site: `python3 serve.py` there, on a USB stick), else build/lite.

The standard library's server, with the two content types a browser insists on for this site set
explicitly (some Pythons map neither): JavaScript modules (.mjs) and WebAssembly (.wasm).
"""

from __future__ import annotations

import argparse
import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json"}

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


def main(argv: "list[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(description="Serve the lab's static site on 127.0.0.1.")
    here = Path(__file__).resolve().parent
    ap.add_argument("site", nargs="?", type=Path,
                    default=here if (here / "index.html").exists() else here.parent / "build" / "lite")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    if not (args.site / "index.html").exists():
        sys.exit(f"no site in {args.site}: build it first (make lite)")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port),
                                     functools.partial(Handler, directory=str(args.site)))
    except OSError as e:  # the port is taken (or not ours to take): one line, not a traceback
        sys.exit(f"cannot serve on 127.0.0.1:{args.port}: {e.strerror or e}; choose another port "
                 "(--port N, or LITE_PORT=N make lite-serve)")
    print(f"serving {args.site} at http://127.0.0.1:{server.server_address[1]}/lab/index.html", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`model-studio cache [--clear]`: the on-disk cache of decoded image folders, and freeing it."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from studio.core.safe_io import printable
    from studio.data.disk_cache import cache_dir, cache_usage, clear_cache, format_bytes

    folder = cache_dir()
    where = printable(str(folder))
    if args.clear:
        print(f"Freed {format_bytes(clear_cache(folder))} from the image cache {where}")
        return 0
    usage = cache_usage(folder)
    print(f"Image cache: {where}")
    if not usage:
        print("  (empty)")
        return 0
    for entry in usage:
        images = (f"{entry.shape[0]} images of {'x'.join(map(str, entry.shape[1:]))}" if entry.shape
                  else "unreadable header")
        state = "" if entry.state == "complete" else f" [{entry.state}]"
        source = printable(entry.source) if entry.source else "(unknown folder)"
        print(f"  {format_bytes(entry.bytes):>10}  {images}  {source}{state}")
    total = sum(entry.bytes for entry in usage)
    print(f"{len(usage)} {'entry' if len(usage) == 1 else 'entries'}, {format_bytes(total)} in all "
          "(model-studio cache --clear frees it)")
    return 0

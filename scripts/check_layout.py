#!/usr/bin/env python3
"""Checks the house rules of architecture.md that a compiler does not.

Run by ctest (`layout_check`) and by hand: `python3 scripts/check_layout.py`.
Exits 1 and names every file that breaks a rule:

- dependencies point one way: common <- proto <- storage <- replication <-
  upgrade <- node. A folder includes project headers only from itself and the
  folders before it (bench/ and tests/ may include everything);
- replication/core/ is sans-IO: no Asio, OpenSSL or RocksDB headers, and no
  storage/ header (it sees the store only through what the driver hands it);
- RocksDB stays inside storage/: one file includes <rocksdb/...>, and no file
  outside storage/object_store/ includes its internal header;
- no non-test source file under common/, storage/, replication/, upgrade/ or
  node/ is over 700 lines.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ORDER = ["common", "proto", "storage", "replication", "upgrade", "node"]
MAX_LINES = 700
ROCKSDB_FILE = "storage/rocks_kv_store.cc"
STORE_INTERNAL = "storage/object_store/internal.h"

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)


def sources():
    for folder in ORDER + ["bench", "tests"]:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".h", ".cc") and "build" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path


def main():
    problems = []
    for rel, path in sources():
        text = path.read_text(errors="replace")
        top = rel.split("/")[0]
        for kind, target in INCLUDE.findall(text):
            if kind == "<":
                if target.startswith("rocksdb/") and rel != ROCKSDB_FILE:
                    problems.append(f"{rel}: includes <{target}>; only {ROCKSDB_FILE} may")
                if rel.startswith("replication/core/") and re.match(
                    r"(boost/asio|openssl/|rocksdb/)", target
                ):
                    problems.append(f"{rel}: replication/core is sans-IO but includes <{target}>")
                continue
            dep = target.split("/")[0]
            if target == STORE_INTERNAL and not rel.startswith("storage/object_store/"):
                problems.append(f"{rel}: includes {STORE_INTERNAL}, private to storage/object_store/")
            if rel.startswith("replication/core/") and dep == "storage":
                problems.append(f"{rel}: replication/core must not include {target}")
            if top in ORDER and dep in ORDER and ORDER.index(dep) > ORDER.index(top):
                problems.append(f"{rel}: {top}/ must not include {target} ({dep}/ depends on {top}/)")
            if top in ORDER and dep in ("bench", "tests"):
                problems.append(f"{rel}: {top}/ must not include {target}")
        if top in ORDER and not rel.endswith("_test.cc") and path.suffix == ".cc":
            lines = text.count("\n")
            if lines > MAX_LINES:
                problems.append(f"{rel}: {lines} lines (at most {MAX_LINES} for a non-test file)")
    for p in problems:
        print(p)
    print(f"layout: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""``cbsp schemas DIR`` | ``cbsp schemas --bundle FILE``: the Avro schemas, for services that do not
install us.

``DIR`` gets the ``.avsc`` files, printed in dependency order (each after the records it refers
to: the order in which Java's ``Schema.Parser`` reads them all with one parser). ``--bundle``
writes one JSON array of all the records in that order: a union schema that any Avro parser reads
in one call (Java: ``new Schema.Parser().parse(file)``, then ``parser.getTypes()``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from schemas import dependency_order


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="cbsp schemas",
        description="write the .avsc files to a folder (printed in dependency order), or all of them "
        "as one union schema (--bundle)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "directory", type=Path, nargs="?", help="where to write the files (created if missing)"
    )
    target.add_argument(
        "--bundle", type=Path, help="write one .avsc holding every record, in dependency order"
    )
    args = parser.parse_args(argv)
    if args.bundle is not None:
        records = [json.loads(path.read_text(encoding="utf-8")) for path in dependency_order()]
        args.bundle.parent.mkdir(parents=True, exist_ok=True)
        args.bundle.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        print(args.bundle)
        return 0
    args.directory.mkdir(parents=True, exist_ok=True)
    for path in dependency_order():
        shutil.copyfile(path, args.directory / path.name)
        print(args.directory / path.name)
    return 0

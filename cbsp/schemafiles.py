"""``cbsp schemas DIR``: write the Avro schemas (.avsc) out, for services that do not install us."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from schemas import schema_dir


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cbsp schemas", description="write the .avsc files to a folder")
    parser.add_argument("directory", type=Path, help="where to write them (created if missing)")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(schema_dir().glob("*.avsc")):
        shutil.copyfile(path, args.directory / path.name)
        print(args.directory / path.name)
    return 0

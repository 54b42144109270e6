"""The Avro schemas of the public contract, shipped as package data.

Each ``.avsc`` file holds one record, named ``<namespace>.<Name>.avsc`` so that
``fastavro.schema.load_schema`` finds the records a schema refers to. Another
service can use these files without the rest of the package::

    from schemas import schema_dir
    fastavro.schema.load_schema(schema_dir() / "cbsp.MessageStatusEvent.avsc")
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

NAMESPACE = "cbsp"


def schema_dir() -> Path:
    """The folder that holds the ``.avsc`` files."""
    return Path(str(files(__name__)))


def schema_path(name: str) -> Path:
    """The file of the record ``name`` (short name such as ``MessageStatusEvent``)."""
    return schema_dir() / f"{NAMESPACE}.{name}.avsc"

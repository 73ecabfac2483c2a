"""Extract, from AFAS's published ``Mutaties.json``, exactly the Profit operations Loonbrug calls,
into ``tests/contract/schemas/profit/`` (one file per operation, ``$ref``s resolved, otherwise
verbatim). The contract tests validate our requests and the sandbox's answers against them.

    .venv/bin/python -m tests.contract.extract_profit_schemas [path/to/Mutaties.json]

Default source: ``/work/shared/specs/afas/profit/Mutaties.json`` (AFASSoftware/OASContent, the
source of docs.afas.help). ``sources.json`` records which JSON path each file came from.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Final

DEFAULT_SOURCE: Final = Path("/work/shared/specs/afas/profit/Mutaties.json")
TARGET: Final = Path(__file__).resolve().parent / "schemas" / "profit"

# (file stem, path in Mutaties.json, method): every Profit operation Loonbrug calls.
OPERATIONS: Final = (
    ("get-MetaInfo", "/MetaInfo", "get"),
    ("post-FiEntries", "/connectors/FiEntries", "post"),
    ("get-Profit_Administrations", "/connectors/Profit_Administrations", "get"),
    ("get-Profit_Journals", "/connectors/Profit_Journals", "get"),
    ("get-Profit_Accounts", "/connectors/Profit_Accounts", "get"),
    ("get-Profit_Allocation_Assigments", "/connectors/Profit_Allocation_Assigments", "get"),
    (
        "get-Profit_periods_per_administration",
        "/connectors/Profit_periods_per_administration",
        "get",
    ),
    ("get-Profit_Transactions", "/connectors/Profit_Transactions", "get"),
    (
        "get-Profit_Transactions_Allocated",
        "/connectors/Profit_Transactions_Allocated",
        "get",
    ),
)


def _pointer(path: str, method: str) -> str:
    """The JSON pointer of an operation (``/`` in a path is ``~1``)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _resolve(node: Any, document: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Replace every internal ``{"$ref": "#/…"}`` by what it points at (recursively)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                raise ValueError(f"recursive $ref {ref}")
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(target, document, (*seen, ref))
        return {key: _resolve(value, document, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, document, seen) for value in node]
    return node


def extract(source: Path) -> dict[str, Any]:
    """``{file name: content}`` for every operation, plus ``sources.json``."""
    raw = source.read_bytes()
    document = json.loads(raw)
    files: dict[str, Any] = {}
    sources: dict[str, Any] = {
        "document": "AFASSoftware/OASContent Mutaties.json (afas/profit/Mutaties.json)",
        "openapi": document["openapi"],
        "version": document["info"]["version"],
        "sha256": hashlib.sha256(raw).hexdigest(),
        "files": {},
    }
    for stem, path, method in OPERATIONS:
        operation = document["paths"][path][method]
        name = f"{stem}.json"
        security = operation.get("security", document.get("security", []))
        schemes = document["components"]["securitySchemes"]
        files[name] = {
            "path": path,
            "method": method.upper(),
            "operation": _resolve(operation, document),
            # the named schemes of the operation's (or the document's) security requirement
            "securitySchemes": {n: schemes[n] for requirement in security for n in requirement},
        }
        sources["files"][name] = _pointer(path, method)
    files["sources.json"] = sources
    return files


def dumps(content: Any) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, content in extract(source).items():
        (TARGET / name).write_text(dumps(content), encoding="utf-8")
        print(f"wrote {TARGET / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""The published Profit contract, as the contract tests read it: the operation files extracted
from Mutaties.json (``schemas/profit/``, see its README), validated with ``jsonschema``.

Where the published text contradicts itself, the tests tolerate exactly the contradiction and no
more; each one is a function here with its reason (and ``test_profit_contract`` checks that the
contradiction is still in the published text):

* :func:`fi_entries_request_schema`: the schema requires ``EnNo`` on every FiEntries line, but
  none of the published request examples sends it (nor the finance how-to), and Profit numbers a
  new entry itself (the 201 answer carries ``EnNo``).
* :func:`rows_schema`: GetConnector row fields are typed without ``null``, but the published
  GetConnector example (get-connector.md "Example result") answers ``null`` for empty fields.
* :func:`query_items`: ``operatortypes`` is typed as one number, but get-connector.md documents
  ``,`` (AND) and ``;`` (OR) lists in ``filterfieldids``/``filtervalues``/``operatortypes``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft4Validator, FormatChecker

SCHEMAS: Final = Path(__file__).resolve().parent / "schemas" / "profit"
SPECS: Final = Path("/work/shared/specs/afas/profit")
FILTER_PARAMETERS: Final = frozenset({"filterfieldids", "filtervalues", "operatortypes"})


@dataclass(frozen=True)
class Operation:
    name: str  # file stem, e.g. "get-Profit_Accounts"
    method: str  # "GET"
    path: str  # "/connectors/Profit_Accounts"
    operation: dict[str, Any]
    security: dict[str, Any]

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        """Published parameters ``in`` query or header, by name."""
        return {
            p["name"]: p["schema"] for p in self.operation.get("parameters", []) if p["in"] == where
        }

    @property
    def statuses(self) -> set[int]:
        return {int(code) for code in self.operation["responses"]}

    def response(self, status: int) -> dict[str, Any]:
        return dict(self.operation["responses"][str(status)])

    def response_schema(self, status: int) -> dict[str, Any] | None:
        content = self.response(status).get("content", {}).get("application/json")
        return content["schema"] if content else None

    def response_example(self, status: int) -> Any:
        content = self.response(status)["content"]["application/json"]
        return next(iter(content["examples"].values()))["value"]

    def request_schema(self) -> dict[str, Any]:
        return dict(self.operation["requestBody"]["content"]["application/json"]["schema"])

    def request_examples(self) -> dict[str, Any]:
        examples = self.operation["requestBody"]["content"]["application/json"]["examples"]
        return {name: example["value"] for name, example in examples.items()}

    @property
    def row_fields(self) -> set[str]:
        return set(self.rows_item()["properties"])

    def rows_item(self) -> dict[str, Any]:
        schema = self.response_schema(200)
        assert schema is not None
        return dict(schema["properties"]["rows"]["items"])


@cache
def operations() -> dict[tuple[str, str], Operation]:
    """Every published operation Loonbrug calls, by (method, path)."""
    found = {}
    for file in sorted(SCHEMAS.glob("*-*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        op = Operation(
            file.stem, data["method"], data["path"], data["operation"], data["securitySchemes"]
        )
        found[(op.method, op.path)] = op
    return found


def by_name(name: str) -> Operation:
    return next(op for op in operations().values() if op.name == name)


def problems(schema: dict[str, Any], instance: Any) -> list[str]:
    """What ``instance`` breaks of ``schema`` (OpenAPI 3.0 schemas are draft-4 JSON Schema)."""
    validator = Draft4Validator(schema, format_checker=FormatChecker())
    return [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


# -- the published contradictions, tolerated exactly --------------------------------------------


def fi_entries_lines_fields(schema: dict[str, Any]) -> dict[str, Any]:
    element = schema["properties"]["FiEntryPar"]["properties"]["Element"]["properties"]
    entries = element["Objects"]["items"]["properties"]["FiEntries"]["properties"]
    fields: dict[str, Any] = entries["Element"]["items"]["properties"]["Fields"]
    return fields


def fi_entries_request_schema() -> dict[str, Any]:
    """The published FiEntries schema without ``EnNo`` among the required line fields."""
    schema = copy.deepcopy(by_name("post-FiEntries").request_schema())
    fields = fi_entries_lines_fields(schema)
    fields["required"] = [name for name in fields["required"] if name != "EnNo"]
    return schema


def rows_schema(operation: Operation) -> dict[str, Any]:
    """The published 200 schema of a GetConnector, each row field also allowed to be null."""
    schema = copy.deepcopy(operation.response_schema(200))
    assert schema is not None
    for field in schema["properties"]["rows"]["items"]["properties"].values():
        field["type"] = [field["type"], "null"]
    return schema


def query_items(name: str, raw: str) -> list[str]:
    """The values of one query parameter: filter parameters are ``,``/``;`` lists."""
    if name in FILTER_PARAMETERS:
        return [item for group in raw.split(";") for item in group.split(",")]
    return [raw]


def coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query string value as the type its schema publishes (a query string is text)."""
    if schema.get("type") in ("number", "integer"):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() else number
    return raw


def shape(value: Any) -> Any:
    """Keys and value types, recursively (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__

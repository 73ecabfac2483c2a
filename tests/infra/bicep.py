"""Offline reading of infra/*.bicep with pycep-parser (no Bicep CLI here).

pycep turns a .bicep file into JSON: ``parameters``, ``variables``, ``resources``, ``modules``,
``outputs``. Literals and identifiers both come out as plain strings (``'managedidentity'`` and
``identityClientId`` look alike), interpolations stay ``'${...}'`` strings, and expressions are
``{"function": …}`` / ``{"operator": …}`` trees. The helpers below walk those trees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
APP = INFRA / "app"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse(path: Path) -> dict[str, Any]:
    return dict(BicepParser().parse(file_path=path))


def module(name: str) -> dict[str, Any]:
    """A parsed file by its path relative to infra/, e.g. ``"app/api.bicep"``."""
    return parse(INFRA / name)


def resources(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    """Resources of one type (``Microsoft.Web/sites``), by symbolic name, with their config.

    A conditional resource (``= if (…) {…}``) is unwrapped: its body is returned under the same
    name and the condition under ``"__condition__"``.
    """
    found: dict[str, dict[str, Any]] = {}
    for name, resource in doc.get("resources", {}).items():
        if resource["type"] != type_:
            continue
        config = dict(resource["config"])
        if "condition" in config and "config" in config:
            condition = config["condition"]
            config = dict(config["config"])
            config["__condition__"] = condition
        config["__existing__"] = resource["existing"]
        config["__api_version__"] = resource["api_version"]
        found[name] = config
    return found


def only(doc: dict[str, Any], type_: str) -> dict[str, Any]:
    declared = {n: r for n, r in resources(doc, type_).items() if not r["__existing__"]}
    assert len(declared) == 1, f"expected one {type_}, found {sorted(declared)}"
    return next(iter(declared.values()))


def walk(node: Any) -> Iterator[Any]:
    """Every value in an expression tree (dicts, lists, scalars), depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def strings(node: Any) -> list[str]:
    return [value for value in walk(node) if isinstance(value, str)]


def object_keys(value: Any) -> set[str]:
    """Keys of a Bicep object literal, also through ``union(...)`` and ``cond ? {…} : {…}``."""
    keys: set[str] = set()
    if isinstance(value, dict):
        if "function" in value:
            for arg in value["function"].get("parameters", {}).values():
                keys |= object_keys(arg)
        elif "operator" in value:
            for operand in value["operator"].get("operands", {}).values():
                keys |= object_keys(operand)
        else:
            keys |= {key.strip("'") for key in value}
    return keys


def resolve_variables(doc: dict[str, Any], value: Any) -> Any:
    """Replace a bare variable name (or union of them) by the variables' values."""
    variables = doc.get("variables", {})
    if isinstance(value, str) and value in variables:
        return resolve_variables(doc, variables[value]["value"])
    if isinstance(value, dict) and "function" in value:
        params = value["function"].get("parameters", {})
        return {
            "function": {
                **value["function"],
                "parameters": {k: resolve_variables(doc, v) for k, v in params.items()},
            }
        }
    if isinstance(value, dict) and "operator" in value:
        operands = value["operator"].get("operands", {})
        return {
            "operator": {
                **value["operator"],
                "operands": {k: resolve_variables(doc, v) for k, v in operands.items()},
            }
        }
    return value


def app_settings() -> dict[str, Any]:
    """Name -> expression of every app setting api.bicep can set (optional ones included)."""
    api = module("app/api.bicep")
    config = next(
        r
        for r in resources(api, "Microsoft.Web/sites/config").values()
        if r["name"] == "appsettings"
    )
    merged = resolve_variables(api, config["properties"])
    settings: dict[str, Any] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict) and "function" in node:
            for arg in node["function"].get("parameters", {}).values():
                collect(arg)
        elif isinstance(node, dict) and "operator" in node:
            for operand in node["operator"].get("operands", {}).values():
                collect(operand)
        elif isinstance(node, dict):
            for key, value in node.items():
                settings[key.strip("'")] = value

    collect(merged)
    return settings


def parameters_file() -> dict[str, Any]:
    return dict(json.loads((INFRA / "main.parameters.json").read_text())["parameters"])


def output_references(node: Any) -> Iterator[tuple[str, str]]:
    """(module symbol, output name) for every ``x.outputs.y`` in an expression tree."""
    for value in walk(node):
        if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
            operands = value["operator"]["operands"]
            inner = operands.get("operand_2")
            if (
                isinstance(operands.get("operand_1"), str)
                and isinstance(inner, dict)
                and inner.get("operator", {}).get("type") == "property_accessor"
                and inner["operator"]["operands"].get("operand_1") == "outputs"
                and isinstance(inner["operator"]["operands"].get("operand_2"), str)
            ):
                yield operands["operand_1"], inner["operator"]["operands"]["operand_2"]
        if isinstance(value, str) and ".outputs." in value:
            for part in value.split("${")[1:]:
                expression = part.split("}", 1)[0]
                pieces = expression.split(".")
                if len(pieces) >= 3 and pieces[1] == "outputs":
                    yield pieces[0], pieces[2]

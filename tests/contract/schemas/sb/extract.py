"""Extract, from AFAS's published SB specification, the schemas of exactly the SB operations
Loonbrug calls, into the JSON fixtures next to this file (see README.md there).

    python -m tests.contract.schemas.sb.extract [SPEC_DIR]

``SPEC_DIR`` (default ``$AFAS_SB_SPEC_DIR`` or ``/work/shared/specs/afas/sb``) holds
``openapi-6-0-0.json`` and the developer pages (``authentication.md``). ``$ref`` pointers are
resolved inline; every fixture names the file and JSON pointer (or page section) it came from.
The fixtures are committed; ``tests/contract/test_sb_contract.py`` re-runs this extraction when
the spec is present and fails when the committed fixtures differ (the spec changed).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC_DIR = Path(os.environ.get("AFAS_SB_SPEC_DIR", "/work/shared/specs/afas/sb"))
SPEC = "openapi-6-0-0.json"

# (fixture file, path, method): the operations Loonbrug sends.
OPERATIONS = (
    ("app_token.json", "/app/token", "post"),
    ("getscopes.json", "/authentication/getscopes", "post"),
    ("administrations.json", "/api/administrations", "get"),
    ("ledgeraccounts.json", "/api/ledgeraccounts", "get"),
    ("accountingperiod.json", "/api/accountingperiod", "get"),
    ("payrolljournalentry.json", "/api/payrolljournalentry", "post"),
)


def pointer(*parts: str) -> str:
    """An RFC 6901 JSON pointer."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(node: Any, root: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points to (recursively)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(target, root)
        return {k: resolve(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, root) for v in node]
    return node


def operation_fixture(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    op = resolve(spec["paths"][path][method], spec)
    request = None
    body = op.get("requestBody")
    if body:
        (content_type, media), *_ = body["content"].items()
        request = {
            "contentType": content_type,
            "required": bool(body.get("required", False)),
            "schema": media.get("schema", {}),
            "examples": {k: v.get("value") for k, v in (media.get("examples") or {}).items()},
        }
    responses = {}
    for status, answer in op.get("responses", {}).items():
        media = (answer.get("content") or {}).get("application/json") or {}
        responses[status] = {
            "description": answer.get("description", ""),
            "schema": media.get("schema"),
            "examples": {k: v.get("value") for k, v in (media.get("examples") or {}).items()},
            "headers": {k: v.get("schema") for k, v in (answer.get("headers") or {}).items()},
        }
    return {
        "source": {"file": SPEC, "pointer": pointer("paths", path, method)},
        "path": path,
        "method": method.upper(),
        "operationId": op.get("operationId"),
        "tags": sorted(op.get("tags", [])),
        "deprecated": bool(op.get("deprecated", False)),
        "security": op.get("security"),
        "parameters": [
            {
                "name": p["name"],
                "in": p["in"],
                "required": bool(p.get("required", False)),
                "schema": p.get("schema", {}),
                **({"example": p["example"]} if "example" in p else {}),
            }
            for p in op.get("parameters", [])
        ],
        "requestBody": request,
        "responses": responses,
    }


def errors_fixture(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"source": {"file": SPEC, "pointer": pointer("components", "responses")}}
    for status, answer in spec["components"]["responses"].items():
        media = answer["content"]["application/json"]
        out[status] = {
            "schema": resolve(media["schema"], spec),
            "examples": {k: v.get("value") for k, v in (media.get("examples") or {}).items()},
            "headers": {k: v.get("schema") for k, v in (answer.get("headers") or {}).items()},
        }
    return out


def _section(text: str, heading: str, after: str | None = None) -> str:
    """The text under ``heading`` (a markdown heading line) up to the next heading, searching
    from ``after`` (an earlier heading) when given."""
    start = text.index(after) if after else 0
    begin = text.index(heading, start)
    rest = text[begin + len(heading) :]
    end = re.search(r"^#{1,4} ", rest, re.M)
    return rest[: end.start()] if end else rest


def _table_names(section: str) -> list[str]:
    """The first column of the first markdown table in ``section`` (header and rule skipped)."""
    rows = [line for line in section.splitlines() if line.strip().startswith("|")]
    names = []
    for line in rows[2:]:
        cell = line.strip().strip("|").split("|")[0].strip().strip("`")
        if cell:
            names.append(cell)
    return names


def _json_example(section: str) -> Any:
    """The first ```json block of ``section``, without the // comments the page writes."""
    block = re.search(r"```json[^\n]*\n(.*?)```", section, re.S)
    assert block, "no json example"
    lines = [re.sub(r"\s*//.*$", "", line) for line in block.group(1).splitlines()]
    return json.loads("\n".join(lines))


def pages_fixture(spec_dir: Path) -> dict[str, Any]:
    """What authentication.md publishes for the consent and token requests (no OpenAPI schema
    exists for ``/app/auth``; the OpenAPI's ``/app/token`` covers the scope-token request only)."""
    page = (spec_dir / "authentication.md").read_text(encoding="utf-8-sig")
    customer = "## Initiate the OAuth2.0 flow / customer environment"
    consent = _section(page, "### Start the consent flow", customer)
    only = dict(
        re.findall(r"^\|\s*(\w+)\s*\|\s*`(\w+)` is the only supported value", consent, re.M)
    )
    auth_names = _table_names(consent)
    code_section = _section(page, "### Request a `refresh_token`", customer)
    refresh_section = _section(page, "### Refresh the `access_token`", customer)
    scope_section = _section(
        page, "### Request an `access_token` for each customer environment", customer
    )
    string = {"type": "string", "minLength": 1}

    def form(names: list[str], fixed: dict[str, str]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": names,
            "properties": {n: ({"const": fixed[n]} if n in fixed else string) for n in names},
        }

    return {
        "source": {
            "file": "authentication.md",
            "sections": {
                "authorize": f"{customer} › Start the consent flow (parameter table; "
                "'is the only supported value' rows)",
                "codeGrant": f"{customer} › Request a `refresh_token`",
                "refreshGrant": f"{customer} › Refresh the `access_token`",
                "scopeGrant": "Initiate the OAuth2.0 flow / Admin Center › Request an "
                "`access_token` for each customer environment",
            },
        },
        "authorize": {
            "query": {
                "type": "object",
                "required": auth_names,
                "properties": {
                    n: ({"enum": [only[n]]} if n in only else string) for n in auth_names
                },
            }
        },
        "codeGrant": {
            "contentType": "application/x-www-form-urlencoded",
            "form": form(_table_names(code_section), {"grant_type": "authorization_code"}),
            "responseExample": _json_example(code_section),
        },
        "refreshGrant": {
            "contentType": "application/x-www-form-urlencoded",
            "form": form(_table_names(refresh_section), {"grant_type": "refresh_token"}),
            "responseExample": _json_example(refresh_section),
        },
        "scopeGrant": {
            "form": form(_table_names(scope_section), {"grant_type": "refresh_token"}),
            "responseExample": _json_example(scope_section),
        },
    }


def pagination_fixture(spec_dir: Path) -> dict[str, Any]:
    """pagination.md's ``sort`` parameter: ``sort=FieldName+Ascending`` ('+' is a space in a
    query string), ``orderMethod`` one of the enumeration the page lists."""
    page = (spec_dir / "pagination.md").read_text(encoding="utf-8-sig")
    syntax = _section(page, "## Syntax")
    methods = re.search(r"`orderMethod` enumeration for ((?:`\w+`\s*\|?\s*)+)", syntax)
    assert methods, "pagination.md: no orderMethod enumeration"
    names = re.findall(r"`(\w+)`", methods.group(1))
    return {
        "source": {
            "file": "pagination.md",
            "section": "## Syntax (sort, fieldName, +, orderMethod)",
        },
        "sort": {"type": "string", "pattern": f"^[A-Za-z0-9_]+ ({'|'.join(names)})$"},
        "alwaysWithSkipTake": "Always combine these with the `sort` parameter" in page,
    }


def extract(spec_dir: Path) -> dict[str, Any]:
    """File name -> fixture content."""
    spec = json.loads((spec_dir / SPEC).read_text(encoding="utf-8"))
    files: dict[str, Any] = {
        name: operation_fixture(spec, path, method) for name, path, method in OPERATIONS
    }
    files["errors.json"] = errors_fixture(spec)
    files["authentication_pages.json"] = pages_fixture(spec_dir)
    files["pagination_page.json"] = pagination_fixture(spec_dir)
    return files


def render(content: Any) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    spec_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC_DIR
    for name, content in extract(spec_dir).items():
        (HERE / name).write_text(render(content), encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""HTTP as plain data: what every route handler receives and answers, and problem+json errors.

Handlers never see ``azure.functions``; ``functions/_http.py`` translates at the edge. Errors are
RFC 9457 problem documents: English ``type``/``title`` for programs and logs, a Dutch ``detail``
(and per-field ``errors``) for the payroll administrator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from shared import untrusted_json

MAX_BODY_BYTES: Final = 256 * 1024
PROBLEM_BASE: Final = "https://loonbrug.nl/problems/"
JSON: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"

ModelT = TypeVar("ModelT", bound=BaseModel)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header map."""

    def __init__(self, raw: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (raw or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """Our own answer parsed (tests, the adapter); never used on request input."""
        return json.loads(self.body)


@dataclass(frozen=True)
class FieldError:
    field: str
    detail: str


class Problem(Exception):
    """An answer that is not a success. Raise it anywhere below a handler."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {slug}: {title}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.hint = hint
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.hint:
            body["hint"] = self.hint
        if self.errors:
            body["errors"] = [{"field": e.field, "detail": e.detail} for e in self.errors]
        body.update(self.extra)
        return body


def problem_response(problem: Problem) -> ApiResponse:
    headers = {"Content-Type": PROBLEM_JSON, **problem.headers}
    return ApiResponse(problem.status, _dumps(problem.to_dict()), headers)


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> ApiResponse:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", by_alias=True)
    return ApiResponse(status, _dumps(payload), {"Content-Type": JSON, **(headers or {})})


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_default).encode()


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- common problems ----------------------------------------------------------------------------


def not_found(detail: str = "Dit item bestaat niet (of hoort niet bij uw kantoor).") -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def bad_request(detail: str, *, errors: list[FieldError] | None = None) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail, errors=errors)


def redirect(url: str) -> ApiResponse:
    """A 302 that is never cached and leaks no address onward: how both OAuth callbacks (Loket
    and AFAS SB) send the browser back to the portal (their codes are in the request URL)."""
    return ApiResponse(
        302, b"", {"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def validation_failed(errors: list[FieldError], detail: str | None = None) -> Problem:
    return Problem(
        422,
        "validation-failed",
        "Validation failed",
        detail or "Niet alle velden zijn goed ingevuld. Zie de meldingen per veld.",
        errors=errors,
    )


# -- numbers in a path or query ----------------------------------------------------------------

# ASCII digits only: int() and str.isdigit() also take "٣" (Arabic-Indic), "３" (full width),
# " 3", "1_0", and isdigit "²" (which int() then refuses: a 500).
_ASCII_NUMBER: Final = re.compile(r"[0-9]{1,9}")


def ascii_int(raw: str | None) -> int | None:
    """The one reading of a whole number from outside (a path or query parameter, a label from
    Loket data): one to nine ASCII digits, nothing else; None otherwise."""
    if raw is None or not _ASCII_NUMBER.fullmatch(raw):
        return None
    return int(raw)


def int_param(
    raw: str | None, field: str, low: int, high: int, text: str, detail: str | None = None
) -> int:
    """A whole number from a path or query parameter between ``low`` and ``high``, else a 422
    naming ``field`` with the Dutch ``text``."""
    value = ascii_int(raw)
    if value is None or not low <= value <= high:
        raise validation_failed([FieldError(field, text)], detail)
    return value


# -- request bodies -----------------------------------------------------------------------------


def read_json(request: ApiRequest) -> Any:
    """The parsed JSON body, or a 400/413/415 problem that says what is wrong, in Dutch."""
    if len(request.body) > MAX_BODY_BYTES:
        raise Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"Het verzoek is te groot (maximaal {MAX_BODY_BYTES // 1024} KB).",
        )
    content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if content_type and not (content_type == JSON or content_type.endswith("+json")):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Stuur de gegevens als JSON (Content-Type: application/json).",
        )
    if not request.body.strip():
        raise bad_request("Het verzoek heeft geen inhoud; er wordt JSON verwacht.")
    try:
        return untrusted_json.parse(request.body, decimals=True)
    except untrusted_json.UntrustedJson as exc:
        raise bad_request(exc.reason) from None


def read_model(request: ApiRequest, model: type[ModelT]) -> ModelT:
    """Parse and validate the JSON body into ``model``: 400 when unreadable, 422 per field."""
    data = read_json(request)
    if not isinstance(data, dict):
        raise bad_request("Er wordt een JSON-object verwacht ({ … }).")
    return validate(model, data)


def validate(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(field_errors(exc)) from None


_DUTCH: Final = {
    "missing": "is verplicht",
    "extra_forbidden": "is geen bekend veld",
    "string_type": "moet tekst zijn",
    "int_type": "moet een geheel getal zijn",
    "int_parsing": "moet een geheel getal zijn",
    "bool_type": "moet true of false zijn",
    "bool_parsing": "moet true of false zijn",
    "date_type": "moet een datum zijn (JJJJ-MM-DD)",
    "date_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "date_from_datetime_parsing": "moet een datum zijn (JJJJ-MM-DD)",
    "decimal_type": "moet een bedrag zijn",
    "decimal_parsing": "moet een bedrag zijn",
    "decimal_max_places": "mag hoogstens twee decimalen hebben",
    "string_too_short": "is te kort",
    "string_too_long": "is te lang",
    "string_pattern_mismatch": "heeft niet de juiste vorm",
    "literal_error": "heeft geen toegestane waarde",
    "enum": "heeft geen toegestane waarde",
    "dict_type": "moet een object zijn",
    "list_type": "moet een lijst zijn",
    "model_type": "moet een object zijn",
    "union_tag_invalid": "heeft een onbekend type",
    "union_tag_not_found": "mist het veld 'type'",
    "greater_than_equal": "is te klein",
    "less_than_equal": "is te groot",
    "too_long": "bevat te veel items",
}


# Discriminator values of tagged unions (``target.type``); pydantic puts them into error paths.
UNION_TAGS: set[str] = set()


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        path = ".".join(
            str(part) for part in err["loc"] if part != "__root__" and part not in UNION_TAGS
        )
        text = _DUTCH.get(err["type"])
        if text is None:
            ctx_message = str(err.get("ctx", {}).get("error", "")) if err.get("ctx") else ""
            text = ctx_message or "heeft een ongeldige waarde"
        errors.append(FieldError(path or "(body)", text))
    return errors

"""Request and response bodies of the management API (pydantic; camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from shared.api.http import UNION_TAGS

# An AFAS ledger account (AcNr: at most 16 characters) or a Loket ledger account code.
AccountCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")
]
AllocationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,15}$")
]
Uuid = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    ),
]
Environment = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
]


class RequestModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- client configurations ----------------------------------------------------------------------


class ProfitTargetIn(RequestModel):
    type: Literal["afas-profit"]
    environment: Environment = Field(description="AFAS Profit environment number, e.g. 12345")
    administration: int = Field(ge=1, le=99999, strict=True, description="Administration (UnId)")
    journal: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6)
    ] = Field(description="Journal (dagboek) code, JoCo")


class SbTargetIn(RequestModel):
    type: Literal["afas-sb"]
    environment: Environment = Field(description="AFAS SB customer environment name")
    administration_id: Uuid = Field(description="SB administration id (uuid)")


TargetIn = Annotated[ProfitTargetIn | SbTargetIn, Field(discriminator="type")]
UNION_TAGS.update({"afas-profit", "afas-sb"})


class MappingIn(RequestModel):
    accounts: dict[AccountCode, AccountCode] = Field(
        default_factory=dict,
        max_length=2000,
        description="Loket ledger account -> AFAS ledger account",
    )
    fallback_account: AccountCode | None = Field(
        default=None, description="AFAS account for lines whose account is not in the table"
    )
    cost_centers: Literal["pass", "map", "drop"] = "pass"
    cost_center_axis: int = Field(default=1, ge=1, le=5, strict=True)
    cost_unit_axis: int | None = Field(default=2, ge=1, le=5, strict=True)
    cost_center_map: dict[AllocationCode, AllocationCode] = Field(
        default_factory=dict, max_length=2000
    )
    cost_unit_map: dict[AllocationCode, AllocationCode] = Field(
        default_factory=dict, max_length=2000
    )
    description: Annotated[str, StringConstraints(min_length=1, max_length=200)] = (
        "Loonjournaal {periode} {administratie} run {volgnummer}"
    )
    period_rule: Literal["payroll-period", "end-date-month", "start-date-month"] | None = None


class RoundingIn(RequestModel):
    account: AccountCode
    max_difference: Decimal = Field(gt=0, le=Decimal("1.00"), decimal_places=2)


class ClientIn(RequestModel):
    loket_payroll_administration_id: Uuid
    target: TargetIn
    include_in_sync: bool = Field(default=True, strict=True)
    mode: Literal["automatic", "review"] = "automatic"
    mapping: MappingIn = Field(default_factory=MappingIn)
    rounding: RoundingIn | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""


class ProfitTargetOut(ResponseModel):
    type: Literal["afas-profit"] = "afas-profit"
    environment: str
    administration: int
    journal: str


class SbTargetOut(ResponseModel):
    type: Literal["afas-sb"] = "afas-sb"
    environment: str
    administration_id: str


class MappingOut(ResponseModel):
    accounts: dict[str, str]
    fallback_account: str | None
    cost_centers: str
    cost_center_axis: int
    cost_unit_axis: int | None
    cost_center_map: dict[str, str]
    cost_unit_map: dict[str, str]
    description: str
    period_rule: str | None


class RoundingOut(ResponseModel):
    account: str
    max_difference: str


class ClientOut(ResponseModel):
    client_id: str
    name: str
    loket_payroll_administration_id: str
    loket_administration_name: str
    loket_client_number: int | None
    loket_employer_name: str
    period_type: str
    target: ProfitTargetOut | SbTargetOut
    include_in_sync: bool
    mode: str
    mapping: MappingOut
    rounding: RoundingOut | None
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str


class ClientList(ResponseModel):
    clients: list[ClientOut]

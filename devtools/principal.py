"""Print the dev principal header, to call the API by hand in development.

    python -m devtools.principal --office demo-office --admin
    curl -H "X-MS-CLIENT-PRINCIPAL: $(python -m devtools.principal --office demo-office --admin --value)" \\
         http://127.0.0.1:7071/api/clients

The header is what Easy Auth (App Service Authentication) sends in Azure; Loonbrug trusts it only
behind Easy Auth or with ``LOONBRUG_ENVIRONMENT=development`` (shared/api/auth.py). The office is
the tenant claim, ``--admin`` adds the role Loonbrug.Admin (without it: a reader).
"""

from __future__ import annotations

import argparse
import sys

from shared.api.auth import ADMIN_ROLE, encode_principal

HEADER = "X-MS-CLIENT-PRINCIPAL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.principal",
        description="Print the X-MS-CLIENT-PRINCIPAL header of a development user.",
    )
    parser.add_argument("--office", required=True, help="the office (tenant) id, e.g. demo-office")
    parser.add_argument("--admin", action="store_true", help="role Loonbrug.Admin (else a reader)")
    parser.add_argument("--user", default="dev-user", help="the user's object id")
    parser.add_argument("--name", default="Ontwikkelaar", help="the user's display name")
    parser.add_argument(
        "--value", action="store_true", help='print only the value (for curl -H "...: $(...)")'
    )
    args = parser.parse_args(argv)
    value = encode_principal(
        office_id=args.office,
        user_id=args.user,
        name=args.name,
        roles=(ADMIN_ROLE,) if args.admin else (),
    )
    print(value if args.value else f"{HEADER}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""AFAS SB facts that need no network: numbers as SB writes them, SB addresses, host patterns,
the sort that keeps pages stable, the settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.afas.environment import (
    InputError,
    SbLocation,
    host_allowed,
    parse_sb_environment,
    parse_sb_path,
    parse_sb_url,
    sb_default_location,
)
from shared.afas.sb import sort_params, whole_number
from shared.settings import Settings, SettingsError

HOSTS = ("*.afasfocus.nl",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (Decimal("1.0"), 1), ("1.0", 1), ("2024", 2024), (Decimal("12"), 12), (" 3 ", 3)],
)
def test_whole_numbers_as_sb_writes_them(value: object, expected: int) -> None:
    assert whole_number(value) == expected  # PeriodNumber 1.0 (the spec's example) is 1


@pytest.mark.parametrize("value", [Decimal("1.5"), "x", None, True, "NaN", "Infinity", ""])
def test_not_whole_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        whole_number(value)


@pytest.mark.parametrize(
    ("raw", "server", "environment"),
    [
        ("https://beers.afasfocus.nl/enyoi/", "https://beers.afasfocus.nl", "enyoi"),
        ("https://beers.afasfocus.nl/enyoi", "https://beers.afasfocus.nl", "enyoi"),
        ("HTTPS://Beers.AfasFocus.nl/Enyoi/", "https://beers.afasfocus.nl", "enyoi"),
        ("https://beers.afasfocus.nl/admin/", "https://beers.afasfocus.nl", "admin"),
        ("https://afas-sb.afasfocus.nl/enyoi/", "https://afas-sb.afasfocus.nl", "enyoi"),
    ],
)
def test_sb_addresses_as_the_concepts_page_writes_them(
    raw: str, server: str, environment: str
) -> None:
    location = parse_sb_url(raw, allowed_hosts=HOSTS, development=False)
    assert location == SbLocation(server, environment)
    assert location.url == f"{server}/{environment}"
    assert location.is_admin_center is (environment == "admin")


def test_a_fragment_copied_from_the_browser_is_ignored() -> None:
    location = parse_sb_url(
        "https://beers.afasfocus.nl/enyoi/#/dashboard", allowed_hosts=HOSTS, development=False
    )
    assert location.url == "https://beers.afasfocus.nl/enyoi"


def test_the_route_environment_with_the_server_alone() -> None:
    location = parse_sb_url(
        "https://beers.afasfocus.nl", allowed_hosts=HOSTS, development=False, environment="enyoi"
    )
    assert location == SbLocation("https://beers.afasfocus.nl", "enyoi")


@pytest.mark.parametrize(
    "raw",
    [
        "https://beers.afasfocus.nl/",  # no environment
        "https://beers.afasfocus.nl/a/b/",  # a prefix on a real server
        "http://beers.afasfocus.nl/enyoi/",
        "https://beers.afasfocus.nl.evil.com/enyoi/",
        "https://beers.afasfocus.nl:443@evil.com/enyoi/",
        "https://beers.afasfocus.nl/en yoi/",
        "https://beers.afasfocus.nl/" + "a" * 70 + "/",
        "https://[::1]/enyoi/",
        "//beers.afasfocus.nl/enyoi/",
    ],
)
def test_unusable_sb_addresses_are_refused_in_dutch(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_sb_url(raw, allowed_hosts=HOSTS, development=False)
    assert str(caught.value)  # Dutch, for the problem's detail


def test_loopback_http_and_a_prefix_only_in_development() -> None:
    raw = "http://127.0.0.1:8123/~beers/atlas/"
    location = parse_sb_url(raw, allowed_hosts=("127.0.0.1",), development=True)
    assert location == SbLocation("http://127.0.0.1:8123/~beers", "atlas")
    with pytest.raises(InputError):
        parse_sb_url(raw, allowed_hosts=("127.0.0.1",), development=False)
    with pytest.raises(InputError):  # loopback, but not in the allowed hosts
        parse_sb_url(raw, allowed_hosts=HOSTS, development=True)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("beers.afasfocus.nl", True),
        ("BEERS.afasfocus.nl", True),
        ("afasfocus.nl", False),
        ("a.b.afasfocus.nl", False),
        ("beersafasfocus.nl", False),
        ("beers.afasfocus.nl.evil.com", False),
    ],
)
def test_host_patterns_take_one_label(host: str, allowed: bool) -> None:
    assert host_allowed(host, HOSTS) is allowed


def test_admin_is_a_path_but_not_a_customer_environment() -> None:
    assert parse_sb_path("Admin") == "admin"
    with pytest.raises(InputError, match="Admin Center"):
        parse_sb_environment("admin")


def test_the_default_server_is_afas_sb_url_without_its_environment() -> None:
    assert sb_default_location("https://afas-sb.afasfocus.nl/{environment}", "enyoi") == SbLocation(
        "https://afas-sb.afasfocus.nl", "enyoi"
    )


def test_every_page_is_sorted_in_both_published_syntaxes() -> None:
    assert sort_params() == {"sort": "Id Ascending", "sortField": "Id ascending"}


def test_allowed_hosts_setting() -> None:
    base = {
        "LOONBRUG_ENVIRONMENT": "development",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    }
    assert Settings.from_env(base).afas_sb_allowed_hosts == ("*.afasfocus.nl",)
    given = {**base, "AFAS_SB_ALLOWED_HOSTS": " *.AfasFocus.nl, 127.0.0.1 "}
    assert Settings.from_env(given).afas_sb_allowed_hosts == ("*.afasfocus.nl", "127.0.0.1")
    for bad in ("https://beers.afasfocus.nl", "beers.afasfocus.nl:443", "*.*.nl", "a/b"):
        with pytest.raises(SettingsError, match="AFAS_SB_ALLOWED_HOSTS"):
            Settings.from_env({**base, "AFAS_SB_ALLOWED_HOSTS": bad})
    with pytest.raises(SettingsError, match="AFAS_SB_URL"):
        Settings.from_env({**base, "AFAS_SB_URL": "https://afas-sb.afasfocus.nl/{environment}/x"})

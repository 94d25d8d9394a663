"""JITBOT_IDENTITY_MAP: Slack user ids mapped to Entra ID object ids or UPNs, every mistake named by its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jit.checks import Verdict
from jit.identity_map import IdentityMapError, identity_map_checks, load_identity_map, parse_identity_map

OBJECT_ID = "7C1D2F3A-0B4E-4C5D-8E9F-0A1B2C3D4E5F"


def test_object_ids_and_user_principal_names_are_read() -> None:
    text = f"# exceptions\nU0ENGINE01: alice.admin@contoso.com\nW0GUEST001: {OBJECT_ID}\n"

    assert parse_identity_map(text) == {"U0ENGINE01": "alice.admin@contoso.com", "W0GUEST001": OBJECT_ID.lower()}


def test_an_empty_file_maps_nobody_and_no_file_is_no_map() -> None:
    assert parse_identity_map("") == {}
    assert load_identity_map(None) == {}


def test_every_mistake_is_reported_with_its_line() -> None:
    text = "U0ENGINE01: alice@contoso.com\nalice: bob@contoso.com\nU0ENGINE01: x@contoso.com\nU0BOB00001: bob\n"

    with pytest.raises(IdentityMapError) as refused:
        parse_identity_map(text, source="map.yaml")

    problems = refused.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("map.yaml:2:") and "not a Slack user id" in problems[0]
    assert problems[1].startswith("map.yaml:3:") and "mapped twice" in problems[1]
    assert problems[2].startswith("map.yaml:4:") and "neither an Entra ID object id" in problems[2]


def test_not_a_mapping_and_bad_yaml_are_refused() -> None:
    with pytest.raises(IdentityMapError, match="must be lines like"):
        parse_identity_map("- U0ENGINE01\n")
    with pytest.raises(IdentityMapError, match="not valid YAML"):
        parse_identity_map("U0ENGINE01: [unclosed\n")


def test_a_missing_file_is_a_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(IdentityMapError, match="cannot read JITBOT_IDENTITY_MAP"):
        load_identity_map(tmp_path / "absent.yaml")


def test_doctor_reports_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("U0ENGINE01: alice@contoso.com\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("U0ENGINE01: nobody\n", encoding="utf-8")

    assert [c.verdict for c in identity_map_checks(None)] == [Verdict.PASS]
    assert "1 Slack users mapped" in identity_map_checks(good)[0].detail
    failed = identity_map_checks(bad)
    assert [c.verdict for c in failed] == [Verdict.FAIL] and f"{bad}:1:" in failed[0].detail

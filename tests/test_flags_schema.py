"""Tier 1: the generated flags/flags.json is a valid flagd flag-definition file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import OPTION_SETS, render
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parent / "schemas" / "flagd"


@pytest.fixture(scope="module", name="validator")
def _validator() -> jsonschema.Draft7Validator:
    """flagd's flags.json schema, resolving its targeting.json reference offline."""
    flags, targeting = (
        json.loads((SCHEMAS / name).read_text())
        for name in ("flags.json", "targeting.json")
    )
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in (flags, targeting)
    )
    jsonschema.Draft7Validator.check_schema(flags)
    return jsonschema.Draft7Validator(flags, registry=registry)


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_flag_file_validates_against_the_flagd_schema(
    template: Path,
    tmp_path: Path,
    validator: jsonschema.Draft7Validator,
    option_set: str,
) -> None:
    """flags/flags.json of every option set passes flagd's schema and ships its flag off."""
    project = render(template, tmp_path / "project", **OPTION_SETS[option_set])
    document = json.loads((project / "flags" / "flags.json").read_text())
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)
    ]
    assert errors == []
    for key, flag in document["flags"].items():
        assert flag["variants"][flag["defaultVariant"]] is False, f"{key} must ship off"


@pytest.mark.parametrize(
    "broken",
    [
        {
            "flags": {
                "f": {"state": "ON", "variants": {"on": True}, "defaultVariant": "on"}
            }
        },
        {
            "flags": {
                "f": {
                    "state": "ENABLED",
                    "variants": {"on": "yes", "off": False},
                    "defaultVariant": "on",
                }
            }
        },
        {
            "flags": {
                "f": {
                    "state": "ENABLED",
                    "variants": {"on": True},
                    "defaultVariant": "on",
                    "targeting": {"no_such_op": [1, 2]},
                }
            }
        },
    ],
    ids=["bad-state", "mixed-variant-types", "bad-targeting"],
)
def test_schema_refuses_broken_flag_files(
    validator: jsonschema.Draft7Validator, broken: dict[str, Any]
) -> None:
    """The vendored schema is strict enough to catch a wrong state, mixed types and bad rules."""
    assert list(validator.iter_errors(broken)), broken

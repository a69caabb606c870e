"""The Belgian enterprise number and the foreign VAT id, as partners type them."""

import pytest
from django.core.exceptions import ValidationError

from consortium.validators import (
    normalise_enterprise_number,
    validate_enterprise_number,
    validate_vat_id,
)
from tests.factories import enterprise_number

FORMAT = "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701)."
CHECKSUM = "This enterprise number fails its check digits: please check it for typing errors."
VAT_FORMAT = "A VAT id starts with the two-letter country code, e.g. FR40303265045."


@pytest.mark.parametrize(
    "typed",
    [
        "BE 0403.170.701",
        "BE0403170701",
        "be 0403 170 701",
        "0403-170-701",
        "0403/170/701",
        "0403.170.701",
        "403.170.701",  # issued before 2005, written without its leading zero
        " 0403170701 ",
    ],
)
def test_normalise_enterprise_number(typed):
    assert normalise_enterprise_number(typed) == "0403170701"


def test_normalise_leaves_garbage_for_the_validator_to_refuse():
    assert normalise_enterprise_number("BE 0403.A70.701") == "0403A70701"
    assert normalise_enterprise_number("") == ""


@pytest.mark.parametrize(
    "number", ["0403170701", "0202239951", "1000000021", "0970000097", enterprise_number(1)]
)
def test_valid_enterprise_numbers(number):
    validate_enterprise_number(number)


def test_factory_numbers_are_valid():
    for n in (0, 1, 96, 97, 98, 123456, 999999):
        validate_enterprise_number(enterprise_number(n))


@pytest.mark.parametrize(
    "number, message",
    [
        ("0403170702", CHECKSUM),
        ("0403170710", CHECKSUM),
        ("0403170700", CHECKSUM),
        ("04031707", FORMAT),  # too short
        ("04031707011", FORMAT),  # too long
        ("0403A70701", FORMAT),  # a letter
        ("BE04031707", FORMAT),  # the prefix is the normaliser's job
        ("2403170701", FORMAT),  # must start with 0 or 1
        ("", FORMAT),
    ],
)
def test_invalid_enterprise_numbers(number, message):
    with pytest.raises(ValidationError) as exc:
        validate_enterprise_number(number)
    assert exc.value.messages == [message]


def test_checksum_and_format_have_distinct_codes():
    with pytest.raises(ValidationError) as bad_checksum:
        validate_enterprise_number("0403170702")
    with pytest.raises(ValidationError) as bad_format:
        validate_enterprise_number("0403")
    assert bad_checksum.value.code == "enterprise_number_checksum"
    assert bad_format.value.code == "enterprise_number_format"


@pytest.mark.parametrize("vat_id", ["FR40303265045", "NL123456789B01", "DE123456789", "ATU1"])
def test_valid_vat_ids(vat_id):
    validate_vat_id(vat_id)


@pytest.mark.parametrize(
    "vat_id", ["40303265045", "fr40303265045", "F40303265045", "FR4", "FR 40303265045", ""]
)
def test_invalid_vat_ids(vat_id):
    with pytest.raises(ValidationError) as exc:
        validate_vat_id(vat_id)
    assert exc.value.messages == [VAT_FORMAT]

"""The demo account types: the one definition every demo check uses."""

from enum import StrEnum


class DemoAccountType(StrEnum):
    """The only two demo account types. Older names are refused, never mapped."""

    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


VALID_DEMO_ACCOUNT_TYPES = tuple(account_type.value for account_type in DemoAccountType)


def parse_demo_account_type(value: object) -> DemoAccountType | None:
    """The account type named by ``value``, or None when it is not one of the two valid names."""
    if isinstance(value, str):
        try:
            return DemoAccountType(value)
        except ValueError:
            return None
    return None

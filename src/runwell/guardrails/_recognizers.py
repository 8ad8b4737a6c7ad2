"""The built-in PII recognizers: one regex each, plus a checksum or range check where one exists.

A regex finds candidates; the validator (Luhn for cards, ISO 13616 mod-97 and the registered
length for IBANs, the SSA's never-issued ranges for SSNs, :mod:`ipaddress` for IPv6, the digit
count for phones) decides. Validating in code rather than in an ever longer regex keeps each
pattern readable and lets the checksum reject what no regex can (a Luhn-invalid 16-digit number
is an order number, not a card). ``canonical`` folds the ways one value is written (spaces,
dashes, case) so a session gives ``4111 1111 1111 1111`` and ``4111-1111-1111-1111`` one
placeholder.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["BUILTIN", "Recognizer"]


@dataclass(frozen=True, slots=True)
class Recognizer:
    """One kind of PII: candidates from ``pattern``, kept when ``validate`` accepts the matched text."""

    kind: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool]
    canonical: Callable[[str], str]
    rank: int
    """Breaks ties between overlapping matches of equal length: lower is more specific and wins."""
    needs: str | None = None
    """A character the text must contain for this recognizer to run (a cheap pre-check)."""


def _always(_: str) -> bool:
    return True


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _upper_compact(value: str) -> str:
    return value.replace(" ", "").upper()


# --- email ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}"
    r"(?![\w-]|\.[A-Za-z0-9])"
)


def _valid_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    # Dots may not start, end or double up in a local part; a domain label never starts or ends with '-'.
    if ".." in local or local.endswith("."):
        return False
    return all(label and not label.startswith("-") and not label.endswith("-") for label in domain.split("."))


# --- phone ----------------------------------------------------------------------------------

# International: '+', a country code, then groups split by one space, dot or dash, or wrapped in
# parentheses ("+1 (415) 555-0132", "+44 20 7946 0958", "+33 1 23 45 67 89", "+4915112345678").
# National: North American numbers only, whose area code and exchange never start with 0 or 1, which
# is what keeps dates (2024-01-15), versions (10.15.7) and order numbers out.
_PHONE = re.compile(
    r"(?<![\w+])\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d+(?:[ .-]\d+){0,6}(?!\w|[.-]\d)"
    r"|(?<![\w+.-])(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?!\w|[.-]\d)"
)


def _valid_phone(value: str) -> bool:
    # E.164 allows at most 15 digits; fewer than 8 with a '+' is a country code and a fragment.
    count = len(_digits(value))
    return 8 <= count <= 15 if value.startswith("+") else count in (10, 11)


# --- payment card ---------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\w+.-])[1-9](?:[ -]?\d){12,18}(?!\w|[.-]\d)")


def _luhn(number: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(number)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_card(value: str) -> bool:
    separators = {c for c in value if not c.isdigit()}
    if len(separators) > 1:  # "4111 1111-1111 1111" is two numbers pasted together, not one card
        return False
    number = _digits(value)
    return 13 <= len(number) <= 19 and len(set(number)) > 1 and _luhn(number)


# --- IBAN -----------------------------------------------------------------------------------

# Registered IBAN lengths (ISO 13616 registry). A country outside this table is not accepted: a
# two-letter prefix, two digits and a passing mod-97 happen by chance once in 97 random strings.
_IBAN_LENGTHS = MappingProxyType({
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
})  # fmt: skip

# Either compact, or printed in groups of four split by single spaces (the paper format).
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?|[A-Z0-9]{11,30})"
    r"(?![A-Za-z0-9])"
)


def _valid_iban(value: str) -> bool:
    iban = _upper_compact(value)
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    # int(c, 36) maps 0-9 to themselves and A-Z to 10-35, exactly the ISO 7064 letter values.
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- US social security number --------------------------------------------------------------

# Never issued: area 000, 666 and 900-999, group 00, serial 0000.
_SSN = re.compile(r"(?<![\w.-])(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-]|\.\d)")


# --- IP addresses ---------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Four octets, not part of a longer dotted run (so "1.2.3.4.5" is not an address) and not a
# version ("v1.2.3.4", "version 1.2.3.4"); three-part versions like 1.2.3 never match at all.
_IPV4 = re.compile(rf"(?<![\w.])(?<![Vv]ersion )(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")

# Candidates are hex-and-colon runs with at least two colons (optionally ending in an IPv4), which
# ipaddress then parses; clock times (10:30:45) and MAC addresses fail the parse.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}(?:\.\d{1,3}){0,3}(?![\w:]|\.\d)"
)


def _valid_ipv6(value: str) -> bool:
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    # "::" and "::1"-like stubs are syntax, not an address that identifies anyone.
    return address.version == 6 and sum(1 for part in value.split(":") if part) >= 2


def _canonical_ipv6(value: str) -> str:
    return ipaddress.IPv6Address(value).compressed


BUILTIN: tuple[Recognizer, ...] = (
    Recognizer("iban", _IBAN, _valid_iban, _upper_compact, rank=0),
    Recognizer("credit_card", _CARD, _valid_card, _digits, rank=1),
    Recognizer("ssn", _SSN, _always, _digits, rank=2, needs="-"),
    Recognizer("email", _EMAIL, _valid_email, str.lower, rank=3, needs="@"),
    Recognizer("ipv6", _IPV6, _valid_ipv6, _canonical_ipv6, rank=4, needs=":"),
    Recognizer("ipv4", _IPV4, _always, str, rank=5, needs="."),
    Recognizer("phone", _PHONE, _valid_phone, _digits, rank=6),
)
"""Every built-in recognizer, most specific first (the order overlap ties are broken in)."""

"""How much of a message's own words maild keeps and repeats. Pure.

A public address receives whatever anyone cares to send: a one-line subject of a megabyte, a
display name of ten thousand characters, an address longer than any mail server accepts, NUL
bytes and other control characters. Whatever is stored in a column or quoted in one of our mails
is bounded here, once, right after parsing, so the database (PostgreSQL refuses NUL and too long
values) and the mails we send (RFC 5322: no line over 998 octets) never see more. The raw bytes
are kept whole elsewhere; nothing is lost by capping what is shown.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # parse imports this module; the types are only for the checker
    from maild.mail.parse import Address, ParsedMail

__all__ = ["ADDRESS_CHARS", "NAME_CHARS", "SUBJECT_CHARS", "bounded", "clean_line", "strip_comments"]

SUBJECT_CHARS = 500  # a ticket's subject, and the subject quoted in our mails
NAME_CHARS = 200  # a display name (parties.name is VARCHAR(200))
ADDRESS_CHARS = 254  # RFC 5321: the longest path a mail server accepts, less the brackets

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def clean_line(value: str, limit: int, strip: bool = True) -> str:
    """``value`` as one line of at most ``limit`` characters: every control character (NUL,
    CR, LF...) becomes a space, so it can neither break a header nor reach a text column.
    Leading and trailing spaces go too, unless ``strip`` is False."""
    line = _CONTROL.sub(" ", value[: limit * 2]).replace("\t", " ")
    return line.strip()[:limit].rstrip() if strip else line[:limit]


def strip_comments(value: str) -> str:
    """``value`` without its RFC 5322 comments ``( ... )``, however deeply nested.

    The standard library's address parser reads a comment by recursion, one level per
    parenthesis: five hundred nested ones raise RecursionError. This loop keeps a depth count
    instead, honouring quoted strings and backslash escapes, and drops an unclosed comment."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
        elif quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            quoted = ch == '"'
            out.append(ch)
    return "".join(out)


def _address(addr: Address | None) -> Address | None:
    if addr is None:
        return None
    if len(addr.address) > ADDRESS_CHARS or _CONTROL.search(addr.address):
        return None  # no server would deliver to it: it is nobody we can write to
    name = clean_line(addr.name, NAME_CHARS)
    return addr if name == addr.name else dataclasses.replace(addr, name=name)


def _addresses(found: tuple[Address, ...]) -> tuple[Address, ...]:
    kept = (_address(a) for a in found)
    return tuple(a for a in kept if a is not None)


def bounded(mail: ParsedMail) -> ParsedMail:
    """``mail`` with its subject, names and addresses bounded as the rest of maild needs them."""
    return dataclasses.replace(
        mail,
        subject=clean_line(mail.subject, SUBJECT_CHARS),
        sender=_address(mail.sender),
        to=_addresses(mail.to),
        cc=_addresses(mail.cc),
        reply_to=_addresses(mail.reply_to),
    )

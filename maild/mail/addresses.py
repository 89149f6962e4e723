"""Who a message is from: the addr-specs of an address header, read from its RAW value. Pure.

RFC 2047 forbids encoded words in an addr-spec (5.3), so the address is read before anything
is decoded, and only the display name is decoded afterwards. Decoding first, as
``getaddresses(decoded)`` did, let ``From: =?utf-8?q?siti=40cvlain.co.id?= <mallory@evil.example>``
pass for Siti, while every mail server and DMARC saw ``evil.example``.

A From with several mailboxes (``a@x, b@y``, a group, two ``<...>`` in one item, or two From
fields naming different addresses) proves nothing and is none of them: ``single_sender``
returns ``None`` and says why, so the caller records the message without a sender identity.

The scanner is one iterative pass (comments nest to any depth on a counter, never on the
call stack: a ``From:`` of 500 nested ``(((...)))`` once raised ``RecursionError``), bounded
by ``MAX_VALUE`` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maild.mail.charsets import decode_bytes, header_text

__all__ = ["Mailbox", "SEVERAL_FROM", "header_fields", "mailboxes", "raw_text", "single_sender"]

# An address header longer than this is not read at all: scanning only its start could miss
# a second mailbox further on, and no real sender needs 16 KB to say who they are.
MAX_VALUE = 16 * 1024
# Defects, as ParsedMail.defects lists them.
SEVERAL_FROM = "SeveralFromAddresses"
TOO_LONG = "AddressHeaderTooLong"

_FORBIDDEN = re.compile(r"[\s<>()\[\]\\,;:\"\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Mailbox:
    """One mailbox: the lowercased addr-spec and the display name (decoded, as written)."""

    address: str
    name: str = ""


@dataclass
class _Item:
    """One comma-separated item while it is scanned."""

    words: list[str] = field(default_factory=list)  # outside <...> and comments; quoted kept
    angles: list[str] = field(default_factory=list)
    comment: str = ""
    word: str = ""

    def end_word(self) -> None:
        if self.word:
            self.words.append(self.word)
            self.word = ""


def raw_text(value: str | bytes) -> str:
    """A raw header value as text, unfolded, with NO encoded word decoded (8-bit bytes, which
    compat32 hands out as surrogates, are decoded as the body's bytes would be)."""
    if isinstance(value, bytes):
        value = decode_bytes(value, ascii_safe=True)[0]
    elif any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), ascii_safe=True)[0]
    return re.sub(r"\r?\n", " ", value)


def mailboxes(values: list[str] | tuple[str, ...]) -> tuple[Mailbox, ...]:
    """Every mailbox with a usable addr-spec in the raw values of one header name, in order,
    without repeats. Items without an address (``undisclosed-recipients:;``) are skipped."""
    out: list[Mailbox] = []
    seen: set[str] = set()
    for value in values:
        for box in _scan(raw_text(value)[:MAX_VALUE]):
            if box.address not in seen:
                seen.add(box.address)
                out.append(box)
    return tuple(out)


def single_sender(values: list[str] | tuple[str, ...]) -> tuple[Mailbox | None, str]:
    """The one mailbox the raw From (or Sender) values name, and ``""``; or ``None`` and the
    defect: ``SeveralFromAddresses`` when they name more than one address, ``BadAddress``
    when they name none, ``AddressHeaderTooLong`` when a value is too long to read."""
    if any(len(v) > MAX_VALUE for v in values):
        return None, TOO_LONG
    found = mailboxes(values)
    if len(found) > 1:
        return None, SEVERAL_FROM
    if not found:
        return None, "BadAddress"
    return found[0], ""


def header_fields(head: bytes, name: str) -> list[str]:
    """The raw values of every ``name:`` field of a header block, unfolded (no MIME parser:
    used at ingest and when the parser failed)."""
    pattern = re.compile(rb"^" + re.escape(name.encode()) + rb"[ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)",
                         re.IGNORECASE | re.MULTILINE)
    return [raw_text(m.group(1).rstrip(b"\r")) for m in pattern.finditer(head)]


def _scan(text: str) -> list[Mailbox]:
    """The mailboxes of one unfolded raw value: one pass, a counter for comment depth."""
    boxes: list[Mailbox] = []
    item = _Item()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "(":
            i = _skip_comment(text, i, item)
            continue
        if ch == '"':
            i = _quoted(text, i, item)
            continue
        if ch == "<":
            end = text.find(">", i + 1)
            end = n if end < 0 else end
            item.end_word()
            item.angles.append(text[i + 1:end])
            i = end + 1
            continue
        if ch in ",;":
            boxes.extend(_finish(item))
            item = _Item()
        elif ch == ":" and not item.angles:
            item = _Item()  # a group's name ("Tim:"), not an address: its members follow
        elif ch.isspace():
            item.end_word()
        else:
            item.word += ch
        i += 1
    boxes.extend(_finish(item))
    return boxes


def _skip_comment(text: str, i: int, item: _Item) -> int:
    """Past the comment opening at ``i`` (nested to any depth); its text is kept, bounded, as
    a possible name (``siti@x (Siti Rahayu)``)."""
    depth, j, n = 0, i, len(text)
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                break
        j += 1
    if not item.comment:
        item.comment = text[i + 1:min(j, i + 200)]
    item.end_word()
    return j + 1


def _quoted(text: str, i: int, item: _Item) -> int:
    """Past the quoted string opening at ``i``; kept with its quotes, so an ``@`` inside it is
    never taken for the one of an addr-spec (``"siti@x" <mallory@y>``)."""
    j, n = i + 1, len(text)
    while j < n and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    item.word += text[i:j + 1]
    return j + 1


def _finish(item: _Item) -> list[Mailbox]:
    """The mailboxes of one item: each ``<addr-spec>``, or else each word that is one."""
    item.end_word()
    if item.angles:
        name = _name(" ".join(item.words)) or _name(item.comment)
        found = [_address(a.rpartition(":")[2]) for a in item.angles]  # drop a source route
        return [Mailbox(a, name if len(item.angles) == 1 else "") for a in found if a]
    found = [a for a in (_address(_unquote_whole(w)) for w in item.words) if a]
    name = _name(item.comment) if len(found) == 1 else ""
    return [Mailbox(a, name) for a in found]


def _unquote_whole(word: str) -> str:
    """``"siti@x"`` standing alone (no ``<...>`` in its item) is read as the address it quotes,
    as other parsers do: it is no easier to forge than a bare ``siti@x``, and no encoded word
    is involved. Next to an ``<addr-spec>`` a quoted string stays a display name."""
    if len(word) > 2 and word[0] == '"' and word[-1] == '"' and word.count('"') == 2 and "\\" not in word:
        return word[1:-1]
    return word


def _address(spec: str) -> str:
    """The addr-spec lowercased if it is one (a local part, one unquoted ``@``, a domain),
    else ``""``."""
    spec = spec.strip()
    if spec.startswith('"'):
        close = spec.rfind('"')
        local, rest = spec[:close + 1], spec[close + 1:]
        if not rest.startswith("@") or len(local) < 3:
            return ""
        domain = rest[1:]
    else:
        local, at, domain = spec.partition("@")
        if not at or "@" in domain or _FORBIDDEN.search(local):
            return ""
    if not local or not domain or _FORBIDDEN.search(domain) or len(spec) > 320:
        return ""
    return f"{local}@{domain}".lower()


def _name(raw: str) -> str:
    """A display name: quotes and escapes removed, encoded words decoded (names may hold them)."""
    raw = raw.strip()
    if not raw:
        return ""
    if raw.startswith("(") and raw.endswith(")"):
        raw = raw[1:-1].strip()  # "addr (Name)": the comment is the name; a quoted name keeps its parentheses
    plain = re.sub(r'\\(.)|"', lambda m: m.group(1) or "", raw)
    return header_text(plain.strip())[:200]

"""Which addresses failed, with what status and why, read from a report's text. Pure.

For reports without DSN fields: the addresses listed under headings such as "The following
addresses failed:", lines such as Postfix's ``<addr>: reason`` and Exim's indented addresses
(``text_recipients``); as a last resort the newest ``Received: ... for <addr>`` or the single To
of the returned message (``returned_recipients``). ``text_status`` is the first enhanced status
code (RFC 3463) in the text, ``text_diagnostic`` one line of the remote server's answer.
"""

from __future__ import annotations

import re

from maild.mail.bounces.text import ADDR, ADDR_RE, ORIGINAL_START, one_line, returned_head, unique
from maild.mail.parse import ParsedMail

_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

# Lines that name a failed recipient, whatever the mail system.
_RCPT_INLINE = [
    # Postfix, qmail, Yahoo, Courier, amavis: "<addr>: reason" / "<addr> (expanded from <x>):"
    re.compile(rf"^[ \t]*<({ADDR})>(?:\s*\(expanded from:?\s*<?({ADDR})>?\))?[ \t]*:", re.MULTILINE),
    # Exim, GMX, OpenSMTPD: "  addr" / "  addr: reason" / '"addr":' alone on a line
    re.compile(rf"^[ \t]*\"?<?({ADDR})>?\"?[ \t]*(?::[ \t]|:?$| - )", re.MULTILINE),
    # SendGrid "local:000000:<addr> : ip : mx : reply"
    re.compile(rf"^[^\s:<>]+:\d+:<({ADDR})>", re.MULTILINE),
    # Exim "(generated from addr)"
    re.compile(rf"\(generated from <?({ADDR})>?\)", _I),
    # DSN fields written into the text
    re.compile(rf"^[ \t]*(?:original|final)-recipient:[ \t]*(?:rfc822[ \t]*;)?[ \t]*<?({ADDR})", _IM),
    re.compile(
        rf"(?:unknown user|invalid final delivery userid|delivery failed(?: \d+ attempts)?|mailbox is full|"
        rf"\baddress:(?=[ \t]*<)|"
        rf"undeliverable to|intended recipient|recipient address|original address|"
        rf"could not be delivered to|your message to|wasn't delivered to|was not delivered to|"
        rf"delivering your message to|addressed to|failed to deliver to|originally addressed to|"
        rf"unable to deliver (?:your message )?to|error delivering your mail to|"
        rf"error delivering to|the following message to|delivery to|recipient(?=[\s:,<\"'])|"
        rf"returned permanent errors|undeliverable recipient|rcpt to|not delivered to|"
        rf"undeliverable address|your message was addressed,)"
        rf"[ \t]*[:,]?[ \t]*(?:\n[ \t]*)?[\"']?<?(?<![\w.+-])({ADDR})>?",
        _I,
    ),
]

_EXPANDED = re.compile(rf"<?({ADDR})>?\s*\(expanded from:?\s*<?({ADDR})>?\)", _I)
_EXPANDED_LINE = re.compile(rf"^\s*\(expanded from:?\s*<?({ADDR})>?\)", _I)

# A heading after which the failed addresses are listed, one a line.
_LIST_HEADING = re.compile(
    r"(?:following (?:addresses?|recipients?|address\(es\)|recipient\(s\)|list of recipients|users?)"
    r"(?: had| failed| returned| could not| did not| was| were|\(s\))?[^\n]*|"
    r"did not reach the following recipient\(s\)|delivery has failed to these recipients[^\n]*|"
    r"was not delivered to|failed permanently|has been delayed|did not receive a copy[^\n]*|"
    r"message not delivered to the following|was not relayed to|failure reasons[^\n]*|"
    r"failed to deliver to the following[^\n]*|message could not be delivered to|"
    r"delivery to the following recipients?[^\n]*|generating server:[^\n]*|"
    r"sent to the following[^\n]*|could not be delivered to|failed recipients[ -]*|list of recipients|addressed to email address\s*|failed addresses follow[: -]*\|?)\s*:?[ \t]*$",
    _IM,
)

_LIST_ITEM = re.compile(rf"^[ \t]*(?:[*>•-]{{1,2}}[ \t]*)?[\"'(]?<?(?:mailto:)?({ADDR})>?", _I)
_LIST_ITEM_NAMED = re.compile(rf"^[ \t]*[^<\n:]{{0,60}}<(?:mailto:)?({ADDR})>", _I)

# Labels after which a report quotes the remote server's answer (on the line, or the next).
_DIAG_LABEL = re.compile(
    r"^\s*(?:diagnostic[- ]code\s*:|remote host said\s*:|remote server replied\s*:|"
    r"the error that the other server returned was\s*:|the response (?:from the remote server )?was\s*:|"
    r"technical details of (?:permanent|temporary) failure\s*:|diagnostic information for administrators\s*:|"
    r"\(?reason\s*:|remote server returned\s*|remote server \(?[\d.]*\)? ?issued an error\.?)",
    _I,
)

_HEADERISH = re.compile(r"^\s*(?:to|cc|from|subject|date|sent|message-id|x-[\w-]+)\s*:", _I)
_TEXT_STATUS = re.compile(r"(?<![\d.])([45]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
_SMTP_REPLY = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)")


def text_recipients(mail: ParsedMail, region: str) -> tuple[str, ...]:
    """Failed addresses named in the report's text, best evidence first."""
    not_them = _not_recipients(mail)
    found: list[str] = []
    aliases = {a.lower(): b.lower() for a, b in _EXPANDED.findall(region)}
    # Addresses listed under a heading such as "The following addresses failed:".
    for heading in _LIST_HEADING.finditer(region):
        found.extend(_list_after(region, heading.end(), aliases))
    for pattern in _RCPT_INLINE:
        for match in pattern.finditer(region):
            groups = [g for g in match.groups() if g]
            if groups:
                found.append(groups[-1])  # "expanded from <alias>": the address the sender used
    out = [aliases.get(a.lower(), a) for a in found]
    out = [a for a in unique(out) if a not in not_them]
    header = unique(ADDR_RE.findall(mail.header("x-failed-recipients") or ""))
    if header:
        return header  # written by the mail system for machines: better than its prose
    return tuple(out)


def returned_recipients(mail: ParsedMail) -> tuple[str, ...]:
    """Last resort: the envelope recipient in the returned message's newest Received header,
    or its only To address."""
    for att in mail.attachments:
        if att.content_type not in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            continue
        head = returned_head(att.content)
        received = [ln for ln in head.split("\n") if ln.lower().startswith("received:")]
        if received:  # only the newest hop: the one the reporting system added
            found = re.search(rf"\bfor\s+<?({ADDR})>?", received[0], _I)
            if found:
                return (found.group(1).lower(),)
        to = [ln for ln in head.split("\n") if ln.lower().startswith("to:")]
        if to:
            addrs = unique(ADDR_RE.findall(to[0]))
            if len(addrs) == 1:
                return addrs
    return ()


def _list_after(region: str, pos: int, aliases: dict[str, str]) -> list[str]:
    """Addresses at the start of the lines after a heading, until the list ends.

    One line of prose may sit between the heading and the list; lines indented deeper than an
    address are its explanation; a blank line may separate two entries.
    """
    out: list[str] = []
    prose = 0
    blanks = 0
    indent = 0
    for line in region[pos:].split("\n")[1:60]:
        if not line.strip():
            blanks += 1
            if blanks > (1 if out else 2):
                break
            continue
        blanks = 0
        if out and len(line) - len(line.lstrip()) > indent:
            alias = _EXPANDED_LINE.match(line)
            if alias:
                aliases[out[-1].lower()] = alias.group(1).lower()  # Sendmail: what the sender used
            continue  # the reason for the entry above
        item = _LIST_ITEM.match(line) or _LIST_ITEM_NAMED.match(line)
        if item:
            out.append(item.group(1))
            indent = len(line) - len(line.lstrip())
            continue
        if out:
            break
        prose += 1
        if prose > 1:
            break
    return out


def _not_recipients(mail: ParsedMail) -> set[str]:
    """Addresses in a report that are never the failed recipient: the report's own sender and
    the mail system's postmaster contacts."""
    out: set[str] = set()
    if mail.sender:
        out.add(mail.sender.address)
    return out


def text_status(region: str) -> str:
    """The first enhanced status code (4.x.x or 5.x.x) in the report's words, or ""."""
    found = _TEXT_STATUS.search(region)
    return found.group(1) if found else ""


def text_diagnostic(region: str, recipients: tuple[str, ...]) -> str:
    """One line: the remote server's answer if the report quotes one, else the reason the
    report gives next to the first failed address."""
    lines = region.split("\n")
    for i, line in enumerate(lines):
        label = _DIAG_LABEL.match(line)
        if label is None:
            continue
        value = line[label.end():].strip()
        if not value:
            following = [ln.strip() for ln in lines[i + 1 : i + 8] if ln.strip()]
            following = [ln for ln in following if not re.match(r"^(?:generating server|original message)", ln, _I)]
            value = " ".join(following[:2]) if following else ""
        value = re.sub(r"^(?:smtp|x-[\w-]+)\s*;\s*", "", value, flags=_I).strip("'\"` ")
        if value:
            return one_line(value)
    entry = _entry_text(lines, recipients[0]) if recipients else ""
    if _SMTP_REPLY.search(entry):
        return one_line(entry)
    for i, line in enumerate(lines):
        text = re.sub(r"^\s*(?:<<<|remote host said:|remote server replied:|diagnostic-code:\s*smtp;)\s*", "", line, flags=_I)
        if text.lstrip().startswith((">>>", "-", "=", "*")) or not _SMTP_REPLY.match(text.strip()):
            continue
        parts = [text.strip()]
        for extra in lines[i + 1 : i + 6]:  # a multi-line reply: "550-5.1.1 ...", "550 5.1.1 ..."
            more = re.sub(r"^\s*<<<\s*", "", extra)
            if re.match(r"^\s*[45]\d\d[ -]", more) or (extra[:1] in (" ", "\t") and extra.strip()
                                                     and not ADDR_RE.match(extra.strip())):
                parts.append(re.sub(r"^\s*[45]\d\d[ -](?:[45]\.\d+\.\d+\s+)?", "", more).strip()
                             if len(parts) > 0 and re.match(r"^\s*[45]\d\d-", text) else more.strip())
            else:
                break
        return one_line(" ".join(parts))
    return one_line(entry)


def _entry_text(lines: list[str], recipient: str) -> str:
    """The words next to (and indented under) the first line naming ``recipient``."""
    for i, line in enumerate(lines):
        pos = line.lower().find(recipient)
        if pos < 0 or _HEADERISH.match(line):
            continue
        rest = line[pos + len(recipient):].lstrip(">\"' )")
        rest = re.sub(r"^\(expanded from[^)]*\)", "", rest).lstrip(" :;,-").strip()
        parts = [rest] if rest else []
        if not rest:
            nxt = next((ln for ln in lines[i + 1 : i + 3] if ln.strip()), "")
            if nxt and not nxt[:1].isspace() and not ADDR_RE.search(nxt) and not ORIGINAL_START.match(nxt) \
                    and not nxt.strip().startswith(("-", "=", "*", "#")):
                return nxt.strip()
        for extra in lines[i + 1 : i + 6]:
            if extra[:1] in (" ", "\t") and extra.strip() and not ORIGINAL_START.match(extra) \
                    and not _EXPANDED_LINE.match(extra) and not extra.strip().startswith("-----"):
                parts.append(extra.strip())
            else:
                break
        text = " ".join(parts).strip()
        if text:
            return re.sub(r"^\((?:reason: )?(.*)\)$", r"\1", text)
    return ""

"""RFC 3464 delivery status notifications: the per-recipient fields. Pure.

A ``multipart/report; report-type=delivery-status`` mail carries one ``message/delivery-status``
part: a block of per-message fields, then one block per recipient (``Final-Recipient``,
``Original-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``). ``dsn_records`` reads them
from that part, or from the report's text when a mail system writes them there instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maild.mail.bounces.text import ADDR_RE, decode, one_line
from maild.mail.parse import ParsedMail

_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

def report_type(mail: ParsedMail) -> str:
    """The ``report-type`` of a ``multipart/report`` (lowercased), or "" for other mail."""
    if mail.content_type != "multipart/report":
        return ""
    found = re.search(r"report-type\s*=\s*\"?([\w-]+)", mail.header("content-type") or "", _I)
    return found.group(1).lower() if found else ""


@dataclass(frozen=True)
class Record:
    """One recipient's fields: address, Action (lowercased), Status code, Diagnostic-Code."""

    recipient: str
    action: str
    status: str
    diagnostic: str


_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")


def dsn_records(mail: ParsedMail, region: str) -> list[Record]:
    """Per-recipient fields from a delivery-status part, or written into the report's text."""
    texts = [decode(a.content) for a in mail.attachments
             if a.content_type in ("message/delivery-status", "message/global-delivery-status")]
    records: list[Record] = []
    for text in texts:
        records.extend(_fields_to_records(text))
    if not records and re.search(r"^[ \t]*(?:final|original)-recipient[ \t]*:", region, _IM):
        records = [r for r in _fields_to_records(region) if r.action or r.status]
    return records


def _fields_to_records(text: str) -> list[Record]:
    """Group unfolded ``Name: value`` lines into one record per recipient."""
    fields: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and fields and line.strip():
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        found = _FIELD.match(line.strip()) if line.strip() else None
        fields.append((found.group(1).lower(), found.group(2).strip()) if found else ("", ""))
    records: list[Record] = []
    current: dict[str, str] = {}

    def flush() -> None:
        rcpt = _field_address(current.get("original-recipient", "")) or _field_address(
            current.get("final-recipient", "")
        ) or _field_address(current.get("x-actual-recipient", ""))
        if rcpt:
            records.append(Record(
                rcpt,
                current.get("action", "").lower().strip(),
                status_of(current.get("status", "")),
                one_line(re.sub(r"^\s*(?:smtp|x-[\w-]+|x-unix|mta)\s*;\s*", "", current.get("diagnostic-code", ""), flags=_I)),
            ))

    for name, value in fields:
        if not name or name in current:
            flush()
            current = {}
        if name:
            current[name] = value
    flush()
    return records


def record_failed(record: Record) -> bool:
    """Failed or delayed. RFC 3464 actions are failed, delayed, delivered, relayed and expanded;
    mail systems also write "failure", "expired" or "deliverable" (address verification)."""
    if record.action:
        return not record.action.startswith(("deliver", "relay", "expand"))
    return record.status[:1] in ("4", "5")


def _field_address(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    kind, semi, addr = value.partition(";")
    if semi and kind.strip().lower() not in ("rfc822", "rfc-822", "smtp", "x-unknown", "unknown"):
        return ""
    found = ADDR_RE.search(addr if semi else value)
    return found.group(0).lower().strip(".") if found else ""


def status_of(value: str) -> str:
    """The enhanced status code (RFC 3463, "5.1.1") in a Status field's value, or ""."""
    found = _STATUS.search(value)
    return found.group(1) if found else ""

"""Is this mail from a person, or from a machine? Pure; decides only whether we may answer.

A message that is automatic is still recorded (and still becomes a ticket when it is a new
report from a machine, e.g. a monitoring alert); it just never gets an automatic answer. The
checks follow RFC 3834 and what RT, Zammad and osTicket look at (../shared/research).
"""

from __future__ import annotations

from dataclasses import dataclass

from maild.mail.parse import ParsedMail

HUMAN = "human"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
BULK = "bulk"
OWN_LOOP = "own_loop"

_MACHINE_LOCALS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply")


@dataclass(frozen=True)
class Screening:
    """The verdict: ``kind`` is one of the constants above; ``reason`` says which header."""

    kind: str
    reason: str = ""

    @property
    def may_answer(self) -> bool:
        return self.kind == HUMAN


def screen(mail: ParsedMail, own_addresses: frozenset[str], own_mid_domain: str) -> Screening:
    """Classify ``mail`` as human, auto-reply, bounce, bulk, or our own mail coming back."""
    sender = mail.sender.address if mail.sender else ""
    if sender in own_addresses:
        return Screening(OWN_LOOP, f"From is our own address {sender}")
    if mail.header("x-maild-loop") is not None:
        return Screening(OWN_LOOP, "X-Maild-Loop header: a mail we sent came back")
    if mail.message_id and mail.message_id.endswith("@" + own_mid_domain) and mail.message_id.startswith("maild."):
        return Screening(OWN_LOOP, "Message-ID is one we minted")
    if mail.content_type == "multipart/report" or _is_dsn(mail):
        return Screening(BOUNCE, "multipart/report delivery status notification")
    local = sender.partition("@")[0]
    if local in ("mailer-daemon", "postmaster"):
        return Screening(BOUNCE, f"sender is {local}")
    if mail.return_path == "":
        return Screening(AUTO_REPLY, "empty Return-Path (null sender)")
    auto = (mail.header("auto-submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return Screening(AUTO_REPLY, f"Auto-Submitted: {auto}")
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        value = mail.header(name)
        if value is not None:
            return Screening(AUTO_REPLY, f"{name}: {value}")
    precedence = (mail.header("precedence") or mail.header("x-precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return Screening(BULK, f"Precedence: {precedence}")
    for name in ("list-id", "list-unsubscribe"):
        if mail.header(name) is not None:
            return Screening(BULK, f"{name} header: a mailing list")
    if local in _MACHINE_LOCALS:
        return Screening(AUTO_REPLY, f"sender {sender} is a no-reply address")
    return Screening(HUMAN)


def _is_dsn(mail: ParsedMail) -> bool:
    return any(a.content_type == "message/delivery-status" for a in mail.attachments)

"""Helpers for the flow tests: configs for real servers, realistic messages, DB queries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.settings import Settings
from maild.app.daemon import Daemon, build
from maild.store.db import make_engine, upgrade
from maild.store.models import Event, InboundMessage, OutgoingMail, Ticket

HELPDESK = "helpdesk@lpse.example"
STAFF = "petugas@lpse.example"


def toml_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def write_config(directory: Path, sections: dict[str, dict[str, Any]], staff: bool = False) -> Path:
    """Write a maild.toml from nested dicts (strings are JSON-quoted, valid TOML); with
    ``staff``, one staff member (STAFF) who gets the ticket notifications."""
    base: dict[str, dict[str, Any]] = {
        "helpdesk": {"address": HELPDESK, "secret": "test-secret", "name": "Helpdesk LPSE Uji"},
        "limits": {"auto_replies_per_sender_per_hour": 1000},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    if staff:
        lines += ["[[staff]]", 'name = "Petugas"', f'address = "{STAFF}"']
    path = directory / "maild.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def imap_sections(account: Any, db_url: str, smtp_port: int) -> dict[str, dict[str, Any]]:
    """Config sections for a test Dovecot account and a test SMTP sink."""
    return {
        "database": {"url": db_url},
        "mailbox": {"url": account.url(), "password": account.password, "ca_file": str(account.ca_file),
                    "poll_interval": 5},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_port}"},
    }


def start(config: Path, clock: FrozenClock | None = None) -> tuple[Daemon, Settings]:
    """Upgrade the database and wire a daemon in this process."""
    settings = load_settings(config)
    engine = make_engine(settings.database.url)
    upgrade(engine)
    engine.dispose()
    return build(settings, clock or FrozenClock()), settings


@dataclass
class Report:
    """A message a reporter sends, as bytes, with its Message-ID."""

    raw: bytes
    message_id: str


def report(
    sender: str = "budi@cv-maju.co.id",
    subject: str = "Tidak bisa login ke aplikasi SPSE",
    body: str = "Selamat pagi,\n\nSaya tidak bisa login ke SPSE sejak kemarin. Mohon bantuannya.\n\nBudi",
    name: str = "Budi Santoso",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
    html: bool = False,
    attachment: bytes | None = None,
) -> Report:
    """A realistic report or reply."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = HELPDESK
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(FrozenClock().now)
    mid = make_msgid(idstring=uuid.uuid4().hex[:8], domain=sender.partition("@")[2] or "x.id")
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references or in_reply_to:
        msg["References"] = " ".join(f"<{r}>" for r in (references or [in_reply_to]))
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(f"<p>{body}</p>", subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="bukti.pdf")
    return Report(msg.as_bytes(), mid.strip("<>"))


def count(daemon: Daemon, model: type, *where: Any) -> int:
    with daemon.factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def tickets(daemon: Daemon) -> list[Ticket]:
    with daemon.factory() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def ledger(daemon: Daemon) -> list[InboundMessage]:
    with daemon.factory() as s:
        return list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def outbox(daemon: Daemon) -> list[OutgoingMail]:
    with daemon.factory() as s:
        return list(s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def events(daemon: Daemon, ticket_id: int) -> list[Event]:
    with daemon.factory() as s:
        return list(s.scalars(select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)))


def run_cli(config: Path, *args: str, ok: bool = True, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """``maild --config CONFIG ARGS`` as a person runs it (``env`` added to the environment);
    never a traceback."""
    proc = subprocess.run([sys.executable, "-m", "maild", "--log-level", "WARNING", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    if ok:
        assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def append(account: Any, *raws: bytes, folder: str = "INBOX") -> None:
    """APPEND messages to a test Dovecot account, as an MTA would deliver them."""
    client = account.client()
    try:
        for raw in raws:
            client.append(folder, raw)
    finally:
        client.logout()


def folder_count(account: Any, folder: str = "INBOX") -> int:
    """How many messages a folder of a test Dovecot account holds (0 if it does not exist)."""
    client = account.client()
    try:
        if not client.folder_exists(folder):
            return 0
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
    finally:
        client.logout()

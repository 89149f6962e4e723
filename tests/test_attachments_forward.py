"""The reporter's files reach the team: attached to the staff notification, the follow-up, the
escalation and the coordinator's mail (within the size budget, the rest listed), listed by
``tickets show`` and the form, written out by ``maild attachments save``.

The whole flow runs for real: reports are delivered into a Maildir, the daemon takes them
through the pipeline and writes its mail to a Maildir, where the tests read it back.
"""

from __future__ import annotations

import email
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness import STAFF, run_cli, start, write_config
from maild.app.cli.attachments import write_new
from maild.base.clock import FrozenClock
from maild.base.config import load_settings
from maild.base.errors import ConfigError
from maild.render.renderer import Rendered, Renderer
from maild.render.views import FileLine, FilesView, MailView, TicketView
from maild.store.outbox import Identity, Outgoing, OutgoingFile, build_message

REPORTER = "budi@cv-maju.co.id"
COORDINATOR = "koordinator@lpse.example"
INFRA = "infra@diskominfo.example"


def png(width: int, height: int, seed: int = 1) -> bytes:
    """A real PNG of noise (so it does not compress away): about width*height*3 bytes."""
    data = hashlib.shake_256(f"png{seed}".encode()).digest(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), data).save(out, format="PNG")
    return out.getvalue()


def pdf(size: int, seed: int = 1) -> bytes:
    """A PDF-looking file of ``size`` bytes (the signature is what the sniffer reads)."""
    body = hashlib.shake_256(f"pdf{seed}".encode()).digest(size)
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + body)[:size]


@dataclass
class Sent:
    to: str
    msg: Message
    raw: bytes

    @property
    def text(self) -> str:
        part = next(p for p in self.msg.walk() if p.get_content_type() == "text/plain")
        return part.get_payload(decode=True).decode().replace("\r\n", "\n")

    @property
    def files(self) -> dict[str, bytes]:
        """The attached files by filename (the text and HTML are not files)."""
        return {p.get_filename(): p.get_payload(decode=True) for p in self.msg.walk()
                if p.get_content_disposition() == "attachment"}


class Desk:
    """The helpdesk over Maildirs: a report goes into the inbox, mail comes out of ``sent``."""

    def __init__(self, directory: Path, db_url: str, budget: int | None = None) -> None:
        self.directory = directory
        sections: dict[str, dict[str, Any]] = {
            "database": {"url": db_url},
            "mailbox": {"url": f"maildir:{directory}/Maildir"},
            "smtp": {"url": f"maildir:{directory}/sent"},
            "coordinator": {"name": "Koordinator Helpdesk", "address": COORDINATOR},
            "digest": {"enabled": False},
        }
        if budget is not None:
            sections["attachments"] = {"forward_max_bytes": budget}
        self.config = write_config(directory, sections, staff=True)
        self.config.write_text(self.config.read_text() + '[[groups]]\nname = "infrastruktur"\n'
                               'title = "Tim Infrastruktur"\n' f'managers = ["{INFRA}"]\n')
        self.daemon, self.settings = start(self.config, FrozenClock())
        self.seen: set[str] = set()
        self.n = 0

    def send(self, raw: bytes) -> None:
        self.n += 1
        inbox = self.directory / "Maildir" / "new"
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / f"{self.n}.test:2,").write_bytes(raw)
        assert self.daemon.run_once()

    def new_mail(self) -> list[Sent]:
        out = []
        for path in sorted((self.directory / "sent" / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            raw = path.read_bytes()
            msg = email.message_from_bytes(raw)
            out.append(Sent(msg["To"].rpartition("<")[2].strip(">"), msg, raw))
        return out

    def mail_to(self, address: str, mails: list[Sent]) -> Sent:
        found = [m for m in mails if m.to == address]
        assert len(found) == 1, [(m.to, m.msg["Subject"]) for m in mails]
        return found[0]

    def cli(self, *args: str, ok: bool = True) -> Any:
        return run_cli(self.config, *args, ok=ok)


@pytest.fixture
def desk(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    d = Desk(tmp_path, db_url)
    yield d
    d.daemon.close()


def mail(body: str, files: list[tuple[str, str, bytes]], sender: str = REPORTER, subject: str = "Tidak bisa login",
         in_reply_to: str | None = None, inline: list[tuple[str, bytes]] = ()) -> tuple[bytes, str]:  # type: ignore[assignment]
    """A report (or reply) with attachments ``(filename, type, bytes)`` and inline images."""
    msg = EmailMessage()
    msg["From"] = f"Pengirim <{sender}>"
    msg["To"] = "helpdesk@lpse.example"
    msg["Subject"] = subject
    mid = make_msgid(domain=sender.partition("@")[2])
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    msg.set_content(body)
    for cid, data in inline:
        msg.add_related(data, maintype="image", subtype="png", cid=f"<{cid}>", disposition="inline")
    for filename, ctype, data in files:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(), mid.strip("<>")


def test_a_report_with_a_png_and_a_pdf_reaches_staff_with_both(desk: Desk) -> None:
    shot, letter, logo = png(200, 150), pdf(80_000), png(8, 8, seed=9)
    assert len(logo) < 10 * 1024
    raw, _ = mail("Saya tidak bisa login. Terlampir tangkapan layar.",
                  [("tangkapan.png", "image/png", shot), ("surat.pdf", "application/pdf", letter)],
                  inline=[("logo@cv", logo)])
    desk.send(raw)
    sent = desk.new_mail()
    staff = desk.mail_to(STAFF, sent)
    assert staff.files == {"tangkapan.png": shot, "surat.pdf": letter}  # the signature logo is not passed on
    assert staff.msg.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in staff.msg.walk() if p.get_content_disposition() == "attachment"] == [
        "image/png", "application/pdf"]
    assert "Lampiran (2), terlampir pada email ini:" in staff.text
    assert f"  - tangkapan.png ({len(shot) // 1024} KB)" in staff.text and "  - surat.pdf (78 KB)" in staff.text
    assert "Tidak dilampirkan" not in staff.text and "logo" not in staff.text
    ack = desk.mail_to(REPORTER, sent)
    assert ack.files == {} and ack.msg.get_content_type() == "multipart/alternative"  # never back to the sender

    shown = desk.cli("tickets", "show", "26-0001").stdout
    table = shown.split("Attachments")[1].split("Mail sent:")[0].splitlines()[1:]
    assert table[0].split() == ["ID", "MESSAGE", "FILENAME", "CONTENT_TYPE", "SIZE"]
    rows = {row.split()[2]: row.split() for row in table[1:] if row.strip()}
    assert rows["tangkapan.png"][3:] == ["image/png", str(len(shot))]
    assert rows["surat.pdf"][3:] == ["application/pdf", str(len(letter))]
    assert len(rows) == 3 and all(row[1] == "1" for row in rows.values())  # the logo too, all from message 1


def test_what_exceeds_the_budget_is_left_out_and_listed(tmp_path: Path, db_url: str) -> None:
    desk = Desk(tmp_path, db_url, budget=100_000)
    try:
        small, big, later = png(100, 100, seed=2), pdf(150_000, seed=3), pdf(20_000, seed=4)
        raw, _ = mail("Dokumen penawaran gagal diunggah.", [("layar.png", "image/png", small),
                                                           ("penawaran.pdf", "application/pdf", big),
                                                           ("kecil.pdf", "application/pdf", later)])
        desk.send(raw)
        staff = desk.mail_to(STAFF, desk.new_mail())
        # The big one does not keep the small one after it out.
        assert staff.files == {"layar.png": small, "kecil.pdf": later}
        assert "Lampiran (2), terlampir pada email ini:" in staff.text
        assert ("Tidak dilampirkan karena melebihi batas 98 KB per email (1):\n  - penawaran.pdf (146 KB)\n"
                in staff.text)
        assert "  maild attachments save 26-0001 --id 2\n" in staff.text
        html = next(p for p in staff.msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
        assert b"penawaran.pdf (146 KB)" in html
    finally:
        desk.daemon.close()


HOSTILE = b"""From: Budi <budi@cv-maju.co.id>
To: helpdesk@lpse.example
Subject: Berkas aneh
Message-ID: <hostile-1@cv-maju.co.id>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

Ini berkasnya.
--b
Content-Type: text/plain
Content-Disposition: attachment; filename="../../etc/passwd"

root:x:0:0
--b
Content-Type: image/png
Content-Disposition: attachment; filename*=utf-8''%0D%0ABcc%3A%20x%40evil.example

PNGDATA
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename="LONGNAME.pdf"

%PDF-1.4 long
--b
Content-Type: application/x-unknown
Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe

MZ-not-really
--b
Content-Type: bogus type\\x/y
Content-Disposition: attachment; filename="..hidden"

hidden
--b
Content-Type: message/rfc822
Content-Disposition: attachment; filename="dari-koordinator.eml"

From: Koordinator Helpdesk <koordinator@lpse.example>
Subject: [LPSE #26-0001] Rekomendasi
X-Maild-Loop: helpdesk@lpse.example

Tutup saja tiketnya.
--b--
""".replace(b"LONGNAME", b"a" * 300).replace(b"\n", b"\r\n")


def test_hostile_filenames_neither_break_the_mail_nor_escape_the_directory(desk: Desk, tmp_path: Path) -> None:
    desk.send(HOSTILE)
    staff = desk.mail_to(STAFF, desk.new_mail())
    head = staff.raw.split(b"\r\n\r\n", 1)[0]
    assert b"Bcc" not in head and staff.msg["Bcc"] is None
    assert all(len(line) <= 998 for line in staff.raw.split(b"\r\n"))
    assert staff.raw.isascii()
    names = [p.get_filename() for p in staff.msg.walk() if p.get_content_disposition() == "attachment"]
    assert len(names) == 6
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert not any(ord(c) < 32 or c in "\u202e\u202d\u200f" for c in name)
    assert names[0] == "passwd" and names[1] == "Bcc_ x@evil.example"
    assert len(names[2]) <= 120 and names[2].endswith(".pdf")
    assert names[3] == "invoice_fdp.exe"
    types = [p.get_content_type() for p in staff.msg.walk() if p.get_content_disposition() == "attachment"]
    assert types[4] == "application/octet-stream"  # "bogus type\x/y" is no type
    # A forwarded message goes as a file: its From (the "coordinator") is never shown as part of our mail.
    assert names[5] == "dari-koordinator.eml" and types[5] == "application/octet-stream"
    assert b"Tutup saja" not in staff.raw and b"message/rfc822" not in staff.raw
    assert b"From: Koordinator Helpdesk" in staff.files["dari-koordinator.eml"]
    # The listing in the text carries the same safe names.
    assert "  - Bcc_ x@evil.example (" in staff.text and "\u202e" not in staff.text

    out = tmp_path / "out"
    lines = desk.cli("attachments", "save", "26-0001", "--to", str(out)).stdout.splitlines()
    assert len(lines) == 6
    written = sorted(out.iterdir())
    assert len(written) == 6 and all(p.parent == out for p in written)
    assert not any(p.name.startswith(".") for p in written)
    assert not (tmp_path / "etc").exists()
    assert (out / "passwd").read_bytes() == b"root:x:0:0" and (out / "hidden").read_bytes() == b"hidden"


def test_escalation_follow_up_and_coordinator_carry_the_reporters_files(desk: Desk) -> None:
    shot, letter, more = png(120, 90, seed=5), pdf(30_000, seed=6), png(64, 64, seed=7)
    raw, _ = mail("Server tidak bisa diakses.", [("tangkapan.png", "image/png", shot),
                                                  ("surat.pdf", "application/pdf", letter)])
    desk.send(raw)
    notice = desk.mail_to(STAFF, desk.new_mail())
    # Staff escalate by replying to the notification; what they attach is theirs, not passed on.
    reply, _ = mail("#eskalasi infrastruktur mohon dicek servernya", [("catatan-staf.pdf", "application/pdf",
                                                                      pdf(5000, seed=8))],
                    sender=STAFF, subject=f"Re: {notice.msg['Subject']}", in_reply_to=notice.msg["Message-ID"].strip("<>"))
    desk.send(reply)
    escalation = desk.mail_to(INFRA, desk.new_mail())
    assert escalation.files == {"tangkapan.png": shot, "surat.pdf": letter}
    assert "Lampiran (2), terlampir pada email ini:" in escalation.text

    # The reporter adds a file: the staff notice of it carries that file only.
    follow, _ = mail("Ini tangkapan layar tambahan.", [("tambahan.png", "image/png", more)],
                     subject=f"Re: {notice.msg['Subject']}")
    desk.send(follow)
    added = desk.mail_to(STAFF, desk.new_mail())
    assert added.files == {"tambahan.png": more}
    assert "Lampiran (1), terlampir pada email ini:\n  - tambahan.png" in added.text

    report_up, _ = mail("#koordinator mohon arahan", [], sender=STAFF, subject=f"Re: {notice.msg['Subject']}",
                        in_reply_to=notice.msg["Message-ID"].strip("<>"))
    desk.send(report_up)
    coordinator = desk.mail_to(COORDINATOR, desk.new_mail())
    assert coordinator.files == {"tangkapan.png": shot, "surat.pdf": letter, "tambahan.png": more}


def test_attachments_save_writes_identical_private_files_and_never_overwrites(desk: Desk, tmp_path: Path) -> None:
    shot, letter = png(50, 50, seed=10), pdf(12_000, seed=11)
    raw, _ = mail("Lihat lampiran.", [("tangkapan.png", "image/png", shot), ("surat.pdf", "application/pdf", letter)])
    desk.send(raw)
    out = tmp_path / "keluar"
    out.mkdir()
    (out / "surat.pdf").write_bytes(b"mine")  # already there: must stay as it is
    printed = desk.cli("attachments", "save", "26-0001", "--to", str(out)).stdout.splitlines()
    assert printed == [f"1: {out / 'tangkapan.png'} ({len(shot)} bytes)", f"2: {out / 'surat-1.pdf'} ({len(letter)} bytes)"]
    assert (out / "surat.pdf").read_bytes() == b"mine"
    assert (out / "tangkapan.png").read_bytes() == shot and (out / "surat-1.pdf").read_bytes() == letter
    for name in ("tangkapan.png", "surat-1.pdf"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o600
    again = desk.cli("attachments", "save", "26-0001", "--id", "1", "--to", str(out)).stdout
    assert again == f"1: {out / 'tangkapan-1.png'} ({len(shot)} bytes)\n"
    assert (out / "tangkapan.png").read_bytes() == shot

    listed = desk.cli("attachments", "list", "26-0001").stdout
    assert "tangkapan.png" in listed and "surat.pdf" in listed

    unknown = desk.cli("attachments", "save", "26-9999", "--to", str(out), ok=False)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "maild: error: no ticket 26-9999"
    missing = desk.cli("attachments", "save", "26-0001", "--id", "7", "--to", str(out), ok=False)
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "maild: error: ticket 26-0001 has no attachment 7 (its attachments: 1, 2)")
    assert len(list(out.iterdir())) == 4  # nothing written by the refused commands


def test_the_form_lists_the_attachments(desk: Desk, tmp_path: Path) -> None:
    shot = png(40, 40, seed=12)
    raw, _ = mail("Lihat lampiran.", [("tangkapan layar.png", "image/png", shot),
                                      ("surat <b>.pdf", "application/pdf", pdf(3000, seed=13))])
    desk.send(raw)
    html_path, pdf_path = tmp_path / "form.html", tmp_path / "form.pdf"
    desk.cli("form", "26-0001", "--html", str(html_path), "--pdf", str(pdf_path))
    html = html_path.read_text()
    row = html.split('<td class="label">Lampiran</td>')[1].split("</tr>")[0]
    assert "<div>tangkapan layar.png (" in row
    assert "<div>surat _b_.pdf (2,9 KB)</div>" in row  # the name made safe when it came in
    assert pdf_path.read_bytes().startswith(b"%PDF")


def test_the_budget_is_checked(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"attachments": {"forward_max_bytes": -1}})
    with pytest.raises(ConfigError, match="attachments.forward_max_bytes: must be 0 or more"):
        load_settings(config)
    config = write_config(tmp_path, {"attachments": {"forward_max_bytes": 0}})
    assert load_settings(config).attachments.forward_max_bytes == 0


def test_write_new_keeps_every_name_inside_the_directory(tmp_path: Path) -> None:
    # The names reach the database already made safe (at intake); saving makes them safe again
    # whatever a row holds, e.g. one written by an older maild.
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "target").write_bytes(b"keep")
    (out / "link.txt").symlink_to(tmp_path / "target")
    written = [write_new(out, name, b"x") for name in (
        "../../etc/passwd", "..", ".bashrc", "\r\nBcc: x@evil", "a" * 300 + ".pdf", "invoice\u202efdp.exe",
        "C:\\Windows\\win.ini", "link.txt")]
    assert [p.name for p in written] == ["passwd", "attachment", "bashrc", "__Bcc_ x@evil", "a" * 116 + ".pdf",
                                         "invoice_fdp.exe", "win.ini", "link-1.txt"]
    assert all(p.parent == out for p in written)
    assert (tmp_path / "target").read_bytes() == b"keep"  # the link was not followed


def test_the_outbox_labels_any_file_safely() -> None:
    # Whatever a caller hands the outbox, each file is one well-formed part: a type that parses,
    # a filename without paths or control characters, lines under 998 octets, no new header.
    ident = Identity("Helpdesk", "helpdesk@lpse.example", "lpse.example", b"k")
    files = (
        OutgoingFile("../../etc/passwd", "text/plain\r\nBcc: x@evil.example", b"root"),
        OutgoingFile("\r\nBcc: x@evil.example", "image/png", b"\x89PNG"),
        OutgoingFile("\u062a\u0642\u0631\u064a\u0631" * 40 + "\u202e.pdf", "application/pdf", b"%PDF" * 1000),
        OutgoingFile("fwd.eml", "message/rfc822", b"From: koordinator@lpse.example\r\n\r\nhi"),
    )
    mail = Outgoing(cause="c", template="new_ticket", recipient=STAFF, recipient_name="Petugas", ticket_id=1,
                    ticket_number="26-0001", rendered=Rendered("s", "teks", "<p>teks</p>"), language="id",
                    attachments=files)
    raw = build_message(ident, mail, "m@lpse.example", datetime(2026, 11, 2, 1, tzinfo=timezone.utc))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and raw.isascii()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and not msg.defects
    parts = list(msg.iter_attachments())
    assert [p.get_content_type() for p in parts] == [
        "application/octet-stream", "image/png", "application/pdf", "application/octet-stream"]
    names = [p.get_filename() for p in parts]
    assert names[:2] == ["passwd", "__Bcc_ x@evil.example"] and names[3] == "fwd.eml"
    assert names[2].endswith(".pdf") and "\u202e" not in names[2] and len(names[2]) <= 120
    assert [p.get_payload(decode=True) for p in parts] == [f.content for f in files]
    assert msg.get_body(("plain",)).get_content() == "teks"


def test_the_lists_read_in_english_too() -> None:
    ticket = TicketView("26-0001", "[LPSE #26-0001]", "Login", "New", "Incident", "akun", "Medium", "Budi",
                        REPORTER, "2 November 2026 09:00 WITA", "1 hours 0 minutes", "-", report="See the screenshot.")
    files = FilesView((FileLine("screen.png", "120 KB", 1),), (FileLine("video.mp4", "12 MB", 2),), "10 MB",
                      "maild attachments save 26-0001 --id 2")
    for kind in ("new_ticket", "reporter_reply", "escalation", "coordinator"):
        text = Renderer().render(kind, "en", MailView(ticket, "Helpdesk", "helpdesk@lpse.example", files=files)).text
        assert "Attachments (1), attached to this email:\n  - screen.png (120 KB)\n" in text, kind
        assert ("Not attached, over the limit of 10 MB per email (1):\n  - video.mp4 (12 MB)\n"
                "They are kept on the helpdesk server; staff can write them out with:\n"
                "  maild attachments save 26-0001 --id 2\n") in text, kind
        bare = Renderer().render(kind, "en", MailView(ticket, "Helpdesk", "helpdesk@lpse.example")).text
        assert "Attachments" not in bare and "Not attached" not in bare

"""Outlook's winmail.dat: the files inside reach the ticket (and staff), the original is kept.

The TNEF files are built here by the format's rules (MS-OXTNEF 2.1.3: a signature, a legacy
key, then attributes of level, id, length, data and a 16-bit sum), as Outlook writes them."""

from __future__ import annotations

import glob
import re
import struct
from email.message import EmailMessage
from pathlib import Path

import pytest

from harness import STAFF
from maild.mail import tnef
from maild.mail.parse import parse
from test_sop_stories import Desk, by_recipient, desk  # noqa: F401 (fixture)

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _attr(level: int, attr_id: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def winmail(*files: tuple[str, bytes]) -> bytes:
    """A TNEF stream holding ``files`` (attAttachRendData starts each, then title and data)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _attr(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    for name, content in files:
        out += _attr(2, 0x00069002, struct.pack("<HIIIH", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRendData
        out += _attr(2, 0x00018010, name.encode("latin-1") + b"\x00")  # attAttachTitle
        out += _attr(2, 0x0006800F, content)  # attAttachData
    return out


def outlook_mail(data: bytes, sender: str = "budi@cv-maju.co.id") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Budi <{sender}>"
    msg["To"] = "helpdesk@lpse.example"
    msg["Subject"] = "Dokumen penawaran gagal diunggah"
    msg["Message-ID"] = "<outlook-1@cv-maju.co.id>"
    msg.set_content("Terlampir tangkapan layar dan dokumen penawaran.")
    msg.add_attachment(data, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return msg.as_bytes()


def test_the_files_inside_winmail_dat_are_unpacked_and_the_original_kept() -> None:
    mail = parse(outlook_mail(winmail(("layar.png", PNG), ("penawaran.pdf", PDF))))
    names = {a.filename: a for a in mail.attachments}
    assert set(names) == {"winmail.dat", "layar.png", "penawaran.pdf"}
    assert names["layar.png"].content == PNG and names["layar.png"].content_type == "image/png"
    assert names["penawaran.pdf"].content == PDF and names["penawaran.pdf"].content_type == "application/pdf"


@pytest.mark.parametrize("data", [b"", b"not tnef at all", winmail(("a.png", PNG))[:40],
                                  struct.pack("<IH", 0x223E9F78, 1) + b"\x02" + b"\xff" * 20])
def test_a_broken_winmail_dat_is_kept_as_it_is(data: bytes) -> None:
    mail = parse(outlook_mail(data))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert any(d.startswith("Tnef") for d in mail.defects) or data[:4] == struct.pack("<I", 0x223E9F78)


def test_a_hostile_name_inside_stays_a_plain_file_name() -> None:
    mail = parse(outlook_mail(winmail(("..\\..\\Windows\\evil.exe", b"MZ" + b"\x00" * 64))))
    inner = [a for a in mail.attachments if a.filename != "winmail.dat"]
    assert len(inner) == 1 and "/" not in inner[0].filename and "\\" not in inner[0].filename
    assert not inner[0].filename.startswith(".")


def test_the_corpus_tnef_mails_are_read() -> None:
    files = [f for f in glob.glob(str(CORPUS / "**" / "*.eml"), recursive=True)
             if re.search(rb"(?im)^content-type:\s*application/ms-tnef", Path(f).read_bytes())]
    assert len(files) >= 5
    for f in files:
        mail = parse(Path(f).read_bytes())
        assert "winmail.dat" in [a.filename for a in mail.attachments], f
        # These Amazon WorkMail reports carry properties only: nothing inside, nothing invented.
        assert not [d for d in mail.defects if d.startswith("TnefUnreadable")], f


def test_staff_get_the_files_outlook_wrapped(desk: Desk) -> None:
    desk.send(outlook_mail(winmail(("layar.png", PNG), ("penawaran.pdf", PDF))))
    notice = by_recipient(desk.new_mail())[STAFF]
    got = {p.get_filename(): p.get_payload(decode=True) for p in notice.msg.walk() if p.get_filename()}
    assert got["layar.png"] == PNG and got["penawaran.pdf"] == PDF
    assert "winmail.dat" in got  # the original too, for an Outlook user


def test_tnef_types() -> None:
    assert tnef.is_tnef("application/ms-tnef", "x.dat") and tnef.is_tnef("application/octet-stream", "WINMAIL.DAT")
    assert not tnef.is_tnef("application/pdf", "winmail.pdf")

"""Parsing mail that is broken in the ways real mail is (pure core)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from maild.mail.charsets import decode_bytes, decode_encoded_words, header_text
from maild.mail.mime import safe_filename
from maild.mail.parse import message_id_list, normalize_message_id, parse
from maild.mail.screen import AUTO_REPLY, BOUNCE, BULK, HUMAN, OWN_LOOP, screen


def test_plain_indonesian_report() -> None:
    raw = (
        "From: =?utf-8?q?Siti_Aminah?= <Siti@CV-Maju.co.id>\r\n"
        "To: helpdesk@lpse.example\r\nSubject: =?UTF-8?B?VXBsb2FkIGRva3VtZW4gcGVuYXdhcmFuIGdhZ2Fs?=\r\n"
        "Message-ID: <A1@Mail.CV-Maju.co.id>\r\nDate: Mon, 02 Nov 2026 09:15:00 +0800\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Dokumen penawaran gagal diunggah, muncul pesan kesalahan.\r\n"
    ).encode()
    mail = parse(raw)
    assert mail.sender is not None and mail.sender.address == "siti@cv-maju.co.id"
    assert mail.sender.name == "Siti Aminah"
    assert mail.subject == "Upload dokumen penawaran gagal"
    assert mail.message_id == "A1@mail.cv-maju.co.id"
    assert "gagal diunggah" in mail.text
    assert mail.date is not None and mail.date.utcoffset() is not None


def test_unencoded_8bit_latin1_header_and_body_with_wrong_charset() -> None:
    raw = b"From: Jos\xe9 <jose@x.id>\nSubject: caf\xe9 \xe0 la carte\nContent-Type: text/plain; charset=utf-8\n\nna\xefve body\n"
    mail = parse(raw)
    assert mail.subject == "café à la carte"
    assert "naïve" in mail.text
    assert any(d.startswith("Charset:") for d in mail.defects)
    assert "MissingMessageId" in mail.defects and "MissingDate" in mail.defects


def test_html_only_mail_becomes_text_with_links() -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.id"
    msg.set_content("<p>Mohon bantuan, lihat <a href='https://spse.example/x'>tautan</a></p><script>x()</script>",
                    subtype="html")
    mail = parse(msg.as_bytes())
    assert "Mohon bantuan" in mail.text
    assert "https://spse.example/x" in mail.text
    assert mail.html is not None


def test_alternative_prefers_plain_and_keeps_attachments() -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.id"
    msg["Subject"] = "s"
    msg.set_content("teks biasa")
    msg.add_alternative("<p>teks <b>html</b></p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="../../etc/passwd.pdf")
    mail = parse(msg.as_bytes())
    assert mail.text.strip() == "teks biasa"
    assert len(mail.attachments) == 1
    att = mail.attachments[0]
    assert att.filename == "passwd.pdf" and att.content == b"%PDF-1.4 data"


def test_forwarded_message_is_kept_as_eml_attachment() -> None:
    inner = EmailMessage()
    inner["From"] = "x@y.id"
    inner["Subject"] = "asli"
    inner.set_content("pesan asli")
    outer = EmailMessage()
    outer["From"] = "a@x.id"
    outer.set_content("lihat pesan terlampir")
    outer.add_attachment(inner)
    mail = parse(outer.as_bytes())
    assert "terlampir" in mail.text
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]
    assert b"pesan asli" in mail.attachments[0].content


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe", b"garbage without headers", b"From: \n\n", b"Content-Type: multipart/mixed; boundary=x\n\n--x\nbroken"])
def test_garbage_never_raises(raw: bytes) -> None:
    mail = parse(raw)
    assert mail.size == len(raw)


def test_message_id_normalisation() -> None:
    assert normalize_message_id(" <Abc.1@EXAMPLE.Org> ") == "Abc.1@example.org"
    assert normalize_message_id("") is None
    assert message_id_list("<a@x> <b@y>\n\t<a@x>") == ("a@x", "b@y")
    assert message_id_list("a@x b@y") == ("a@x", "b@y")


def test_encoded_words_tolerant() -> None:
    assert decode_encoded_words("=?utf-8?b?SGFsbw?=") == "Halo"  # missing padding
    assert decode_encoded_words("=?x-unknown?q?caf=E9?=") == "café"
    assert decode_encoded_words("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab"
    assert header_text("line one\r\n\tline two") == "line one line two"
    assert decode_bytes("semuanya baik".encode("utf-16"), "utf-16")[0] == "semuanya baik"
    assert decode_bytes(b"\xc4\xe3\xba\xc3", "gb2312")[0] == "你好"


@pytest.mark.parametrize(
    ("name", "safe"),
    [("../../x.pdf", "x.pdf"), ("C:\\Users\\a\\doc.docx", "doc.docx"), ("a\x00b\r\n.txt", "a_b__.txt"),
     ("", "attachment"), ("x" * 300 + ".pdf", "x" * 116 + ".pdf")],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: budi@x.id\n", HUMAN),
        ("From: budi@x.id\nAuto-Submitted: no\n", HUMAN),
        ("From: budi@x.id\nAuto-Submitted: auto-replied\n", AUTO_REPLY),
        ("From: budi@x.id\nPrecedence: bulk\n", BULK),
        ("From: budi@x.id\nPrecedence: junk\n", BULK),
        ("From: budi@x.id\nList-Id: <l.x.id>\n", BULK),
        ("From: budi@x.id\nList-Unsubscribe: <mailto:u@x.id>\n", BULK),
        ("From: budi@x.id\nX-Autoreply: yes\n", AUTO_REPLY),
        ("From: budi@x.id\nX-Autorespond: yes\n", AUTO_REPLY),
        ("From: budi@x.id\nX-Auto-Response-Suppress: All\n", AUTO_REPLY),
        ("From: budi@x.id\nReturn-Path: <>\n", AUTO_REPLY),
        ("From: MAILER-DAEMON@mx.x.id\n", BOUNCE),
        ("From: postmaster@x.id\n", BOUNCE),
        ("From: helpdesk@lpse.example\n", OWN_LOOP),
        ("From: budi@x.id\nX-Maild-Loop: helpdesk@lpse.example\n", OWN_LOOP),
        ("From: budi@x.id\nMessage-ID: <maild.26-0001.aa.bb@lpse.example>\n", OWN_LOOP),
        ("From: noreply@bank.id\n", AUTO_REPLY),
    ],
)
def test_screening(headers: str, kind: str) -> None:
    mail = parse((headers + "Subject: s\n\nbody\n").encode())
    assert screen(mail, frozenset({"helpdesk@lpse.example"}), "lpse.example").kind == kind


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"From: a@x\r\nMessage-ID: <Abc@X.ORG>\r\n\r\nbody", "mid:Abc@x.org"),
        (b"From: a@x\nmessage-id:\n <folded@x.org>\n\nbody", "mid:folded@x.org"),
        (b"From: a@x\n\nMessage-ID: <in-body@x.org>\n", None),
        (b"X-Original-Message-ID: <other@x.org>\nFrom: a@x\n\nb", None),
    ],
)
def test_inbound_key(raw: bytes, key: str | None) -> None:
    import hashlib

    from maild.mail.keys import key_for

    assert key_for(raw).key == (key or f"sha256:{hashlib.sha256(raw).hexdigest()}")


@pytest.mark.parametrize(
    ("declared", "content", "recorded"),
    [
        ("application/pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/vnd.microsoft.portable-executable"),
        ("application/octet-stream", b"%PDF-1.4 isi", "application/pdf"),
        ("image/jpeg", b"%PDF-1.4 isi", "application/pdf"),
        ("application/pdf", b"%PDF-1.4 isi", "application/pdf"),
        ("text/csv", b"a,b\n1,2\n", "text/csv"),
    ],
)
def test_attachment_type_is_checked_by_content(declared: str, content: bytes, recorded: str) -> None:
    msg = EmailMessage()
    msg["From"] = "a@x.id"
    msg.set_content("lampiran")
    maintype, subtype = declared.split("/")
    msg.add_attachment(content, maintype=maintype, subtype=subtype, filename="penawaran.pdf")
    mail = parse(msg.as_bytes())
    assert mail.attachments[0].content_type == recorded
    assert any(d.startswith("ContentType:") for d in mail.defects) == (recorded != declared)


@pytest.mark.parametrize("charset", ["idna", "undefined", "base64", "rot13", "x-no-such-charset"])
def test_charsets_that_are_not_text_encodings(charset: str) -> None:
    # Found by the fuzz test: these names exist in Python but cannot decode text as asked.
    assert decode_bytes("caf\xe9 ok".encode("latin-1"), charset)[0].endswith(" ok")
    raw = f"From: a@x.id\nSubject: =?{charset}?q?caf=E9?=\nContent-Type: text/plain; charset={charset}\n\nna\xefve\n"
    mail = parse(raw.encode("latin-1"))
    assert mail.text.strip()


def test_filename_without_c1_or_bidi_controls() -> None:
    assert safe_filename("\x80laporan\u202efdp.exe") == "_laporan_fdp.exe"


@pytest.mark.parametrize(
    ("raw", "subject", "sender"),
    [
        (b"From: Budi <budi@cv-maju.co.id>\r\nSubject: Re: [LPSE #26-0001] x\r\n"
         b"Content-Type: multipart/mixed; boundary*=undefined''b\r\n\r\n--b\r\n\r\nterima kasih\r\n",
         "Re: [LPSE #26-0001] x", "budi@cv-maju.co.id"),
        (b"From: Budi <budi@cv-maju.co.id>\r\nSubject: Re: [LPSE #26-0001] =?a\x00?q?x?=\r\n\r\nterima kasih\r\n",
         "Re: [LPSE #26-0001] x", "budi@cv-maju.co.id"),
        (b"From: a@x.id\nSubject: s\nDate: Mon, 1 Jan 99999999999999999999 00:00:00 +0000\n\nx\n", "s", "a@x.id"),
    ],
)
def test_headers_survive_what_breaks_the_parser(raw: bytes, subject: str, sender: str) -> None:
    # Fuzz-found: the stdlib parser raised; the sender and the ticket token must still be read.
    mail = parse(raw)
    assert mail.subject == subject
    assert mail.sender is not None and mail.sender.address == sender


def test_a_quoted_display_name_keeps_its_parentheses() -> None:
    """A quoted name is the name as written; only a bare ``(comment)`` name loses its brackets."""
    from maild.mail.parse import parse

    quoted = parse(b'From: "Budi (CV Maju)" <budi@cv-maju.co.id>\r\nSubject: x\r\n\r\nisi\r\n')
    commented = parse(b"From: budi@cv-maju.co.id (Budi Santoso)\r\nSubject: x\r\n\r\nisi\r\n")
    assert quoted.sender is not None and quoted.sender.name == "Budi (CV Maju)"
    assert commented.sender is not None and commented.sender.name == "Budi Santoso"

"""The outgoing mail as bytes: valid MIME that any client reads the same way."""

from __future__ import annotations

import email
from datetime import datetime, timezone
from email import policy

from maild.store.outbox import Identity, Outgoing, build_message
from maild.render.renderer import Rendered

IDENT = Identity("Helpdesk LPSE Kabupaten Tana Tidung", "helpdesk@lpse.example", "lpse.example", b"k")


def test_message_round_trips_through_a_strict_parser() -> None:
    mail = Outgoing(
        cause="mid:x@y", template="ack", recipient="budi@x.id", recipient_name="Budi Sántoso",
        ticket_id=1, ticket_number="26-0001",
        rendered=Rendered("[LPSE #26-0001] Laporan diterima: Upload gagal – paket jalan desa " + "panjang " * 8,
                          "Yth. Budi,\nTerima kasih – nomor 26-0001.\n", "<p>Yth. Budi &amp; rekan</p>"),
        language="id", in_reply_to="orig@x.id", references=tuple(f"r{i}@x.id" for i in range(12)),
    )
    raw = build_message(IDENT, mail, "maild.26-0001.ab.cd@lpse.example", datetime(2026, 11, 2, 1, tzinfo=timezone.utc))
    assert raw == build_message(IDENT, mail, "maild.26-0001.ab.cd@lpse.example",
                                datetime(2026, 11, 2, 1, tzinfo=timezone.utc))  # a resend is the same bytes
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert not msg.defects
    assert msg["Subject"] == mail.rendered.subject
    assert msg["To"].addresses[0].display_name == "Budi Sántoso"
    assert msg["Date"].datetime.utcoffset().total_seconds() == 8 * 3600  # WITA
    assert msg["In-Reply-To"] == "<orig@x.id>" and "<r11@x.id>" in msg["References"]
    assert msg["Auto-Submitted"] == "auto-replied"
    plain = msg.get_body(("plain",)).get_content()
    assert plain.replace("\r\n", "\n") == "Yth. Budi,\nTerima kasih – nomor 26-0001.\n"
    assert "Budi &amp; rekan" in msg.get_body(("html",)).get_content()


def test_a_long_message_id_is_not_folded_away_from_its_header() -> None:
    from maild.store.outbox import _fold

    mid = "<maild.26-0001.7dcd3b9a1234866f.adcfaf191fe3d207ae07@lpse.tanatidungkab.go.id>"
    assert _fold("Message-ID", mid) == f"Message-ID: {mid}"
    folded = _fold("References", " ".join([mid] * 3))
    assert folded.startswith(f"References: {mid}\r\n {mid}")

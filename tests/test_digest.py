"""The coordinator's digest from a realistic week: its content, its chart, its schedule."""

from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from harness import STAFF, report, run_cli, start, write_config
from maild.service import actions
from maild.service.actions import Act
from maild.base.clock import FrozenClock
from maild.store.models import InboundMessage, OutgoingMail, Ticket
from maild.transport.sources import FilesMailbox
from maild.app.daemon import build

COORDINATOR = "koordinator@lpse.example"
SUBJECTS = [
    ("Lupa password akun penyedia", 6), ("SPSE tidak bisa diakses, server down", 4),
    ("Permohonan verifikasi akun penyedia baru", 5), ("Upload dokumen penawaran gagal", 7),
    ("Sertifikat elektronik tidak terbaca", 3), ("Produk e-katalog tidak tampil", 2), ("Pertanyaan umum", 2),
]


@pytest.fixture
def week(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    """A week of reports (Monday 2 to Friday 6 November 2026), some closed, some escalated."""
    clock = FrozenClock(datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc))
    config = write_config(tmp_path, {
        "database": {"url": db_url}, "smtp": {"url": f"maildir:{tmp_path}/sent"},
        "coordinator": {"name": "Koordinator Helpdesk", "address": COORDINATOR},
        "sla": {"check_every": 0},
    }, staff=True)
    config.write_text(config.read_text() + '[[groups]]\nname = "infrastruktur"\nmanagers = ["infra@x.id"]\n')
    daemon, settings = start(config, clock)
    daemon.close()
    n = 0
    for subject, count in SUBJECTS:
        for i in range(count):
            n += 1
            eml = tmp_path / f"r{n}.eml"
            eml.write_bytes(report(sender=f"pelapor{n}@cv{n}.co.id", subject=f"{subject} ({i})").raw)
            clock.now = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc) + timedelta(hours=7 * n)
            d = build(settings, clock, mailbox=FilesMailbox([str(eml)]))
            d.ingest.run_once()
            d.pipeline.run_once()
            d.close()
    daemon = build(settings, clock, mailbox=FilesMailbox([]))
    with daemon.factory() as s, s.begin():
        tickets = s.scalars(select(Ticket).order_by(Ticket.id)).all()
        for t in tickets[::3]:  # a third closed
            actions.resolve(Act(s, daemon.pipeline.mailer, daemon.pipeline.settings.intake.roles, t, STAFF, "t:close",
                                clock()), "Selesai ditangani.")
        for t in (tickets[1], tickets[2], tickets[4]):
            actions.escalate(Act(s, daemon.pipeline.mailer, daemon.pipeline.settings.intake.roles, t, STAFF, "t:esc",
                                 clock()), "infrastruktur", "cek")
        s.execute(update(OutgoingMail).where(OutgoingMail.id == 1).values(state="failed",
                                                                          last_error="550 5.1.1 no such user"))
        s.execute(update(InboundMessage).where(InboundMessage.id == 2).values(state="dead",
                                                                              last_error="RuntimeError: boom"))
    yield daemon, clock
    daemon.close()


def test_digest_content_in_indonesian(week, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon, clock = week
    clock.now = datetime(2026, 11, 9, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 WITA
    with daemon.factory() as s:
        view = daemon.digest.compose(s, clock())
        open_count = s.scalar(select(func.count(Ticket.id)).where(Ticket.state != "closed"))
    assert view.open_count == open_count == 19
    assert [g.step for g in view.groups] == ["1-2", "4"]
    new = view.groups[0].lines
    assert all(a.overdue or not b.overdue for a, b in zip(new, new[1:]))  # overdue first
    assert any(l.overdue for l in new)
    assert len(view.awaiting_group) == 3
    week = {w.category: (w.intake, w.closed) for w in view.week}
    assert sum(i for i, _ in week.values()) == 29 and sum(c for _, c in week.values()) == 10

    rendered = daemon.renderer.render("digest", "id", view)
    assert rendered.subject.startswith("Ringkasan Helpdesk 9 November 2026: 19 tiket terbuka")
    text = rendered.text
    assert "Langkah 1-2: Baru" in text and "Langkah 4: Dieskalasi" in text
    assert "[LPSE #26-0002]" in text and "jam kerja" in text
    assert "Email gagal terkirim (1" in text and "550 5.1.1" in text
    assert "Pesan di karantina (1" in text and "boom" in text
    assert "Eskalasi menunggu jawaban" in text
    assert '<img src="cid:chart"' in rendered.html and "Langkah 4" in rendered.html

    with daemon.factory() as s, s.begin():
        assert daemon.digest.queue(s, view, COORDINATOR, "Koordinator", "test:digest", clock()) == 1
        raw = s.scalar(select(OutgoingMail.raw).where(OutgoingMail.template == "digest"))
    msg = email.message_from_bytes(raw, policy=policy.default)
    [png] = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert png["Content-ID"] == "<chart>"

    # The preview written to a file shows the chart without a mail client to resolve cid:.
    run_cli(tmp_path / "maild.toml", "digest", "--preview", "--html", str(tmp_path / "d.html"))
    html = (tmp_path / "d.html").read_text()
    assert '<img src="data:image/png;base64,iVBOR' in html and "cid:chart" not in html
    import io

    image = Image.open(io.BytesIO(png.get_content()))
    assert image.format == "PNG" and image.width == 640


def test_digest_comes_once_per_working_day_at_its_time(week) -> None:  # type: ignore[no-untyped-def]
    daemon, clock = week

    def digests() -> int:
        with daemon.factory() as s:
            return int(s.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.template == "digest")) or 0)

    before = digests()
    clock.now = datetime(2026, 11, 7, 2, 0, tzinfo=timezone.utc)  # Saturday 10:00 WITA
    assert daemon.digest.run_once() == 0
    clock.now = datetime(2026, 11, 8, 23, 29, tzinfo=timezone.utc)  # Monday 07:29 WITA
    assert daemon.digest.run_once() == 0
    clock.now = datetime(2026, 11, 8, 23, 31, tzinfo=timezone.utc)  # Monday 07:31 WITA
    assert daemon.digest.run_once() == 1
    assert daemon.digest.run_once() == 0
    clock.advance(hours=5)
    assert daemon.digest.run_once() == 0
    assert digests() == before + 1


def test_all_clear(tmp_path: Path, db_url: str) -> None:
    clock = FrozenClock(datetime(2026, 11, 3, 1, 0, tzinfo=timezone.utc))
    config = write_config(tmp_path, {"database": {"url": db_url}, "smtp": {"url": f"maildir:{tmp_path}/sent"},
                                     "coordinator": {"address": COORDINATOR}})
    daemon, _ = start(config, clock)
    try:
        with daemon.factory() as s:
            view = daemon.digest.compose(s, clock())
        assert view.all_clear
        assert "Semua aman" in daemon.renderer.render("digest", "id", view).text
        assert daemon.digest.run_once() == 1
    finally:
        daemon.close()

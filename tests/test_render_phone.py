"""Every mail kind reads on a phone: the HTML part of each, taken from the outbox after a
story through the SOP with hostile and long content, laid out by headless Chromium at 390 and
1280 px, must not be wider than the screen. The pages and screenshots stay in ``var/render/``
(CI keeps them as artifacts). A missing Chromium fails the test (tests/ensure-servers.sh
installs Debian's ``chromium``).
"""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from harness import STAFF, report, start, write_config
from maild.app.daemon import build
from maild.base.clock import FrozenClock
from maild.render.html_mail import inline_images, text_to_html
from maild.render.renderer import KINDS, LANGUAGES
from maild.service import actions, survey
from maild.service.actions import Act
from maild.sop.codes import Done, Phrase, Refused, Why
from maild.sop.skm import Rating
from maild.stages.alerts import MailboxLook
from maild.store.models import OutgoingMail, Ticket
from maild.transport.sources import FilesMailbox

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parent.parent / "var" / "render"
WIDTHS = (390, 1280)
COORDINATOR = "koordinator@lpse.example"
INFRA = "infra@diskominfo.example"
REPORTER = "budi.santoso.dengan.alamat.yang.panjang@cv-maju-jaya-sentosa.co.id"

LONG_WORD = "Tidakbisalogin" * 21 + "X" * 6  # 300 characters, no place to break
LONG_URL = "https://spse.lpse.example/eproc4/lelang/8812345/pengumumanlelang?token=" + "a1b2c3d4" * 20
HOSTILE = '<script>alert("xss")</script> dan "><img src=x onerror=alert(1)>'
REPORT = "\n".join([
    "Selamat pagi Bapak/Ibu petugas helpdesk,",
    "Sejak kemarin saya tidak bisa login ke aplikasi SPSE, muncul pesan galat setiap kali mencoba masuk. " * 2,
    f"Pesan yang muncul: {HOSTILE}",
    LONG_WORD,
    f"Halaman yang saya buka: {LONG_URL}",
    "Terima kasih, Budi Santoso (0812-3456-7890)",
])
SUBJECT = "Tidak bisa login ke SPSE untuk mengunggah dokumen penawaran paket pekerjaan jalan dan " \
          "jembatan kabupaten tahun anggaran 2026 " + "Z" * 80


@dataclass(frozen=True)
class Page:
    language: str
    kind: str
    text: str
    html: str  # as sent, with cid: images put inside so a browser shows them

    @property
    def name(self) -> str:
        return f"{self.language}-{self.kind}"


def _story(directory: Path, language: str) -> list[OutgoingMail]:
    """A ticket through every step of the SOP, then every other notice, all queued by the
    code that queues them; the outbox afterwards."""
    clock = FrozenClock(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    config = write_config(directory, {
        "helpdesk": {"language": language},
        "database": {"url": f"sqlite:///{directory}/maild.db"}, "smtp": {"url": f"maildir:{directory}/sent"},
        "coordinator": {"name": "Koordinator Helpdesk", "address": COORDINATOR},
        "sla": {"check_every": 0},
        "alerts": {"admin_address": "admin@diskominfo.example"},
    }, staff=True)
    # A second staff member, who is told when the first takes the ticket ("taken").
    config.write_text(config.read_text() + f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur '
                      f'Diskominfo"\nmanagers = ["{INFRA}"]\n'
                      '[[staff]]\nname = "Rina Wati Kusumaningrum"\naddress = "rina@lpse.example"\n')
    daemon, settings = start(config, clock)
    daemon.close()
    eml = directory / "report.eml"
    eml.write_bytes(report(sender=REPORTER, subject=SUBJECT, body=REPORT).raw)
    daemon = build(settings, clock, mailbox=FilesMailbox([str(eml)]))
    try:
        daemon.ingest.run_once()
        daemon.pipeline.run_once()
        mailer, roles = daemon.pipeline.mailer, daemon.pipeline.settings.intake.roles
        with daemon.factory() as s, s.begin():
            ticket = s.scalars(select(Ticket)).one()
            steps: list[tuple[str, Any]] = [
                (COORDINATOR, lambda a: actions.assign(a, STAFF)),
                (STAFF, lambda a: actions.answer(a, "Selamat siang Pak Budi,\n\nSilakan coba login lagi melalui "
                                                    f"{LONG_URL}\nlalu hapus cache peramban.\n\nSalam,\nPetugas")),
                (STAFF, lambda a: actions.escalate(a, "infrastruktur", f"Mohon cek server SPSE, log: {LONG_WORD.lower()}")),
                (INFRA, lambda a: actions.group_reply(a, "Server sudah dipulihkan.\n- cache dibersihkan\n"
                                                         "- layanan dijalankan ulang")),
                (STAFF, lambda a: actions.to_coordinator(a, "Belum bisa kami atasi; perlu arahan " + HOSTILE)),
                (COORDINATOR, lambda a: actions.recommend(a, "Minta pelapor mengganti kata sandi, lalu coba lagi.")),
                (REPORTER, lambda a: actions.reporter_replied(a, "Masih gagal pagi ini.\n" + LONG_WORD.upper())),
                (STAFF, lambda a: actions.resolve(a, "Kata sandi sudah direset; silakan login kembali di\n"
                                                     f"{LONG_URL}")),
                (REPORTER, lambda a: survey.answer(a, Rating(None, (3, 4, 4, 4, 3, 4, 4, 4, 4),
                                                             "Terima kasih, cepat. " + HOSTILE + " " + LONG_WORD))),
                (REPORTER, lambda a: actions.reopen(a, "Maaf, hari ini gagal lagi: " + HOSTILE)),
            ]
            for n, (actor, step) in enumerate(steps):
                clock.advance(hours=1)
                step(Act(s, mailer, roles, ticket, actor, f"story:{n}", clock()))
            act = Act(s, mailer, roles, ticket, STAFF, "story:notices", clock())
            act.mail("confirm", STAFF, act.view("Petugas", applied=(Done.ANSWERED, f"{Done.ASSIGNED}:{STAFF}", Done.ANSWERED_BY_HAND),
                                                refused=(Refused(f"#eskalasi keuangan {LONG_WORD}",
                                                                 Phrase(Why.NO_GROUP, ("keuangan", "", "infrastruktur"))),)))
            act.mail("unverified", STAFF, act.view("Petugas", HOSTILE, extra={"subject": SUBJECT}))
            act.mail("bounce_notice", STAFF, act.view("Petugas", "550 5.1.1 <" + REPORTER + ">: Recipient address "
                                                      "rejected: User unknown in virtual mailbox table " + LONG_WORD,
                                                      extra={"recipients": REPORTER, "status": "5.1.1"}))
            for level in ("response", "resolution"):
                act.mail("sla_reminder", STAFF, act.view("Petugas", extra={"hours": "41.5", "level": level}))
            act.mail("sla_head", "kepala@lpse.example", act.view("Kepala LPSE", extra={"hours": "80", "level": "head"}))
            ident = mailer.settings.identity
            mailer.queue_notice(s, "too_large", REPORTER, "Budi Santoso", {
                "recipient_name": "Budi Santoso", "subject": SUBJECT, "size_mb": "31.4", "limit_mb": "25",
                "helpdesk_name": ident.name, "helpdesk_address": ident.address}, "story:large", "limit", clock())
            view = daemon.digest.compose(s, clock())
            assert daemon.digest.queue(s, view, COORDINATOR, "Koordinator Helpdesk", "story:digest", clock()) == 1
            # The month so far, with the story's ticket in its tables, as the daemon mails a month.
            assert daemon.report_mail.queue(s, "2026-11", clock()).queued == (COORDINATOR,)
        # The admin's alerts: the mailbox cannot be read (with the error as logged), and the story's
        # outbox, never sent, is stuck; then the mailbox's recovery.
        failing = MailboxLook("default", "imap://helpdesk@mail.lpse.example:993/INBOX", clock(),
                              f"IMAP login on imap://helpdesk@mail.lpse.example:993/INBOX failed: {LONG_WORD} {HOSTILE}")
        clock.advance(minutes=20)
        assert daemon.alerts.run_once(failing) == 2
        clock.advance(minutes=40)
        assert daemon.alerts.run_once(replace(failing, failing_since=None, error="")) == 1
        with daemon.factory() as s:
            return list(s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))
    finally:
        daemon.close()


def _page(language: str, row: OutgoingMail) -> Page:
    msg = email.message_from_bytes(row.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    images = tuple((p["Content-ID"].strip("<>"), p.get_content()) for p in msg.walk()
                   if p.get_content_type() == "image/png")
    return Page(language, row.template, text, inline_images(html, images))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Page]:
    """The longest mail of each kind in each language, as the outbox holds it."""
    out = []
    for language in LANGUAGES:
        rows = _story(tmp_path_factory.mktemp(language), language)
        for kind in KINDS:
            mine = [_page(language, r) for r in rows if r.template == kind]
            assert mine, f"the story queued no {kind} mail"
            out.append(max(mine, key=lambda p: len(p.html)))
    return out


_CHECK = """<script>
window.addEventListener("load", () => {
  const out = [];
  for (const frame of document.querySelectorAll("iframe")) {
    const win = frame.contentWindow, doc = frame.contentDocument, width = win.innerWidth;
    const wide = [];
    for (const el of doc.querySelectorAll("body *")) {
      const right = el.getBoundingClientRect().right;
      if (right > width + 0.5) wide.push(el.tagName + " right=" + Math.round(right) + " " + (el.textContent || "").slice(0, 40));
    }
    out.push({name: frame.dataset.name, width: width, scrollWidth: doc.documentElement.scrollWidth,
              fits: doc.documentElement.scrollWidth <= width, wide: wide.slice(0, 8),
              height: doc.documentElement.scrollHeight, text: doc.body.innerText,
              scripts: doc.scripts.length, images: Array.from(doc.images).map(i => i.naturalWidth)});
  }
  document.getElementById("result").textContent = JSON.stringify(out);
});
</script>"""


def _chromium(*args: str) -> str:
    profile = tempfile.mkdtemp(prefix="maild-chromium-")
    try:
        proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _frame(name: str, html: str, width: int, height: int) -> str:
    # srcdoc frames share the page's origin, so its script can measure inside them; a frame of
    # exactly the phone's width is the phone's viewport (a headless window is at least 500 px).
    return (f'<iframe data-name="{escape(name)}" srcdoc="{escape(html, quote=True)}" '
            f'style="display:block;border:0;margin:0;width:{width}px;height:{height}px;"></iframe>')


def measure(documents: dict[str, str], width: int) -> dict[str, dict[str, Any]]:
    """Lay out each document at ``width`` CSS px in Chromium: what fits, what sticks out."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "check.html"
        page.write_text("<!DOCTYPE html><html><body style='margin:0'>"
                        + "".join(_frame(n, h, width, 900) for n, h in documents.items())
                        + f'<pre id="result"></pre>{_CHECK}</body></html>', encoding="utf-8")
        dom = _chromium(f"--window-size={width + 100},1000", "--virtual-time-budget=10000", "--dump-dom",
                        page.as_uri())
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    from html import unescape
    return {r["name"]: r for r in json.loads(unescape(found.group(1)))}


def screenshots(documents: dict[str, tuple[str, int]], width: int, directory: Path) -> None:
    """``NAME-WIDTH.png`` in ``directory`` for each document (html, height): the document as a
    ``width`` px screen shows it, all of it. Chromium starts once per sheet of frames laid out
    in columns (starting it is most of the time), and the sheet is cut into the pictures."""
    sheet_width, column_height = 4200, 6000
    sheets: list[list[tuple[str, int, int, int]]] = [[]]  # (name, x, y, height)
    x = y = 0
    for name, (_, height) in documents.items():
        height = max(200, min(height, column_height))
        if y + height > column_height:
            x, y = x + width, 0
            if x + width > sheet_width:
                sheets.append([])
                x = 0
        sheets[-1].append((name, x, y, height))
        y += height
    for sheet in sheets:
        size = (max(x + width for _, x, _, _ in sheet), max(y + h for _, _, y, h in sheet))
        with tempfile.TemporaryDirectory() as tmp:
            page, png = Path(tmp) / "sheet.html", Path(tmp) / "sheet.png"
            page.write_text("<!DOCTYPE html><html><body style='margin:0'>" + "".join(
                f'<div style="position:absolute;left:{x}px;top:{y}px;">{_frame(name, documents[name][0], width, h)}</div>'
                for name, x, y, h in sheet) + "</body></html>", encoding="utf-8")
            _chromium(f"--window-size={max(size[0], 500)},{size[1]}", f"--screenshot={png}", page.as_uri())
            with Image.open(png) as image:
                for name, x, y, h in sheet:
                    image.crop((x, y, x + width, y + h)).save(directory / f"{name}-{width}.png", compress_level=1)


TOO_WIDE = "<!DOCTYPE html><html><body><div style='width:2000px'>fixed width</div></body></html>"


@pytest.fixture(scope="module")
def measured(pages: list[Page]) -> dict[int, dict[str, dict[str, Any]]]:
    """Each page laid out at each width, written to ``var/render/LANG-KIND.html`` too."""
    assert Path(CHROMIUM).exists(), "chromium missing: run tests/ensure-servers.sh"
    OUT.mkdir(parents=True, exist_ok=True)
    for p in pages:
        (OUT / f"{p.name}.html").write_text(p.html, encoding="utf-8")
    documents = {p.name: p.html for p in pages}
    # The control page proves the check sees overflow at all.
    return {width: measure({**documents, "control-too-wide": TOO_WIDE}, width) for width in WIDTHS}


def test_every_mail_kind_fits_a_phone_and_a_desktop(pages: list[Page], measured: dict[int, Any]) -> None:
    assert len(pages) == 2 * len(KINDS)
    for width, result in measured.items():
        assert not result["control-too-wide"]["fits"]
        assert set(result) == {p.name for p in pages} | {"control-too-wide"}
        for name, r in result.items():
            if name == "control-too-wide":
                continue
            assert r["width"] == width, (name, r["width"])
            assert r["fits"] and not r["wide"], f"{name} is wider than {width} px: {r['scrollWidth']}, {r['wide']}"
            assert r["scripts"] == 0, name
            if name.endswith("-digest"):
                assert r["images"] and all(w > 0 for w in r["images"]), "the digest shows its chart"
            if name.endswith("-monthly_report"):
                assert len(r["images"]) >= 4 and all(w > 0 for w in r["images"]), "the report shows its charts"
                assert "LAPORAN BULANAN" in r["text"] and SUBJECT[:40] in r["text"], name
            if "-escalation" in name or "-coordinator" in name or "-new_ticket" in name:
                # Hostile content is shown as text, and the report only once.
                assert HOSTILE in r["text"] and r["text"].count(LONG_WORD) == 1, name


@pytest.mark.slow
def test_screenshots_of_every_mail_kind(pages: list[Page], measured: dict[int, Any]) -> None:
    """``var/render/LANG-KIND-WIDTH.png``, for people to look at (CI keeps them)."""
    for width in WIDTHS:
        screenshots({p.name: (p.html, measured[width][p.name]["height"]) for p in pages}, width, OUT)
        for p in pages:
            with Image.open(OUT / f"{p.name}-{width}.png") as image:
                assert image.size[0] == width and image.size[1] >= 200


def test_the_text_part_is_not_hard_wrapped_and_cites_the_report_once(pages: list[Page]) -> None:
    for p in pages:
        for kind in ("escalation", "coordinator", "assigned", "sla_reminder"):
            if p.kind == kind:
                assert p.text.count(LONG_WORD) == 1 and p.html.count(LONG_WORD) == 1, p.name
        # A line the template wrote runs to the end of its sentence (or its list item).
        for line in p.text.splitlines():
            if len(line) > 60 and not line.startswith(" ") and LONG_WORD not in line and LONG_URL not in line:
                assert line.rstrip()[-1] in ".:!?,)" or line.startswith(("-", "#", "!")), (p.name, line)
    by_name = {p.name: p for p in pages}
    assert "If it was yours, reply to the ticket notification we sent you. If not, someone may be forging your " \
           "address; please tell the admin." in by_name["en-unverified"].text


def test_hostile_content_is_text() -> None:
    html = text_to_html(f"Dear x,\n\n  {HOSTILE}\n  {LONG_URL}\n\n{HOSTILE}\n\n- {HOSTILE}  {LONG_URL}")
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert html.count("&lt;script&gt;") == 3
    assert html.count(f'<a href="{LONG_URL}"') == 2
    assert text_to_html('see https://x.example/a"><img src=x onerror=alert(1)>') == (
        '<p style="margin:0 0 12px;">see <a href="https://x.example/a" style="color:#1a56db;">https://x.example/a</a>'
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>")


def test_the_text_conventions_become_structure() -> None:
    text = ("Dear colleague,\n\nA sentence that a writer wrapped by hand somewhere in the middle of\n"
            "the sentence goes on here.\nKind regards,\nHelpdesk\n\n"
            "  Ticket   : 26-0001\n  Subject  : Login\n\nThe report:\n" + "-" * 70 + "\n  line one\n\n  line two\n"
            + "-" * 70 + "\nHistory:\n- 1 Nov  budi  report_received\n\n    cited\n    text\n\n- 2 Nov  petugas  escalated\n"
            "\n1. first\n2. second\n--\nsent automatically")
    html = text_to_html(text)
    assert "middle of the sentence goes on here.<br>\nKind regards,<br>\nHelpdesk" in html
    assert html.count('<div style="flex:0 0 8.5em;') == 2 and ">26-0001</div>" in html
    assert "-----" not in html and "line one\n\nline two</div>" in html
    assert html.count("<li ") == 4 and "<strong>1 Nov</strong> budi · report_received<div" in html
    assert "cited\ntext</div></li>" in html and "<ol " in html and "<hr " in html
    assert '<p style="margin:16px 0 6px;font-weight:bold;">History:</p>' in html

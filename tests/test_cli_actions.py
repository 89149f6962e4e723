"""Every ticket action from the CLI has the effects of the email command: events and mail."""

from __future__ import annotations

import email
import json
from email import policy
import sqlite3
from pathlib import Path

import pytest

from harness import run_cli as maild

STAFF = "petugas@lpse.example"
COORD = "koordinator@lpse.example"
INFRA = "infra@diskominfo.example"




@pytest.fixture
def desk(tmp_path: Path) -> Path:
    config = tmp_path / "maild.toml"
    maild(config, "init")
    config.write_text(config.read_text().replace('address = "helpdesk@lpse.tanatidungkab.go.id"',
                                                 'address = "helpdesk@lpse.example"')
                      .replace('cli_actor = ""', f'cli_actor = "{STAFF}"')
                      + f'\n[[staff]]\nname = "Petugas Satu"\naddress = "{STAFF}"\n'
                      f'[coordinator]\nname = "Koordinator"\naddress = "{COORD}"\n'
                      f'[[groups]]\nname = "infrastruktur"\ntitle = "Tim Infrastruktur"\nmanagers = ["{INFRA}"]\n')
    maild(config, "check-config")
    return config


def db(config: Path) -> sqlite3.Connection:
    return sqlite3.connect(config.parent / "maild.db")


def story(config: Path, number: str) -> list[tuple[str, int | None, str]]:
    return db(config).execute("SELECT e.event, e.step, e.actor FROM events e JOIN tickets t ON t.id = e.ticket_id "
                              "WHERE t.number = ? ORDER BY e.id", (number,)).fetchall()


def mail(config: Path) -> list[tuple[str, str]]:
    return db(config).execute("SELECT template, recipient FROM outbox ORDER BY id").fetchall()


def new_ticket(config: Path, email: str = "budi@cv.example") -> str:
    out = maild(config, "tickets", "new", "--subject", "Tidak bisa login", "--text", "Lupa password akun penyedia",
                "--name", "Budi", "--email", email, "--contact", "0812-1111-2222", "--channel", "telepon",
                "--json").stdout
    return json.loads(out)["number"]


def test_phone_report_is_recorded_classified_and_acknowledged(desk: Path) -> None:
    number = new_ticket(desk)
    row = db(desk).execute("SELECT channel, contact, category, state FROM tickets WHERE number = ?",
                           (number,)).fetchone()
    assert row == ("telepon", "0812-1111-2222", "akun", "new")
    assert story(desk, number) == [("report_received", 1, STAFF)]
    assert mail(desk) == [("ack", "budi@cv.example")]  # the staff member who took it is not notified
    out = maild(desk, "tickets", "new", "--subject", "Datang langsung", "--text", "Minta jadwal verifikasi",
                "--name", "Andi", "--channel", "datang", "--json").stdout
    assert mail(desk) == [("ack", "budi@cv.example")]  # no address, no acknowledgement
    assert json.loads(out)["number"].endswith("0002")


def test_every_action_writes_its_event_and_queues_its_mail(desk: Path) -> None:
    n = new_ticket(desk)
    maild(desk, "tickets", "reply", n, "Silakan", "reset", "melalui", "menu", "lupa", "password")
    maild(desk, "tickets", "note", n, "Sudah", "dicek", "di", "log")
    maild(desk, "tickets", "assign", n, "Petugas Satu", "--as", COORD)
    maild(desk, "tickets", "status", n, "tunggu")
    maild(desk, "tickets", "escalate", n, "infrastruktur", "cek", "server")
    maild(desk, "tickets", "coordinator", n, "perlu", "arahan")
    maild(desk, "tickets", "resolve", n, "Password", "sudah", "direset")
    maild(desk, "tickets", "reopen", n)
    assert [(e, s) for e, s, _ in story(desk, n)] == [
        ("report_received", 1), ("staff_answered", 5), ("assigned", 2), ("note_added", 5), ("assigned", 2),
        ("status_updated", 5),
        ("escalated", 4), ("reported_to_coordinator", 6), ("resolved", 8), ("reopened", 5)]
    assert mail(desk)[1:] == [
        ("answer", "budi@cv.example"), ("assigned", STAFF), ("escalation", INFRA), ("escalated", "budi@cv.example"),
        ("coordinator", COORD), ("closed_notice", INFRA), ("closed_notice", COORD), ("closing", "budi@cv.example")]


def test_refused_actions_are_one_line_exit_1(desk: Path) -> None:
    n = new_ticket(desk)
    bad = maild(desk, "tickets", "escalate", n, "keuangan", ok=False)
    assert bad.returncode == 1 and "infrastruktur" in bad.stderr and bad.stderr.count("\n") == 1
    maild(desk, "tickets", "resolve", n, "beres")
    again = maild(desk, "tickets", "resolve", n, "lagi", ok=False)
    assert again.returncode == 1 and "closed" in again.stderr
    missing = maild(desk, "tickets", "note", "26-9999", "x", ok=False)
    assert missing.returncode == 1 and "no ticket 26-9999" in missing.stderr
    usage = maild(desk, "tickets", "status", n, ok=False)
    assert usage.returncode == 2


def test_merge_moves_later_mail_to_the_surviving_ticket(desk: Path, tmp_path: Path) -> None:
    a = new_ticket(desk)
    b = new_ticket(desk, "rekan@cv.example")
    maild(desk, "tickets", "merge", b, a)
    assert story(desk, b)[-1][0] == "merged"
    reply = tmp_path / "reply.eml"
    reply.write_bytes(f"From: rekan@cv.example\r\nTo: helpdesk@lpse.example\r\nSubject: Re: [LPSE #{b}] x\r\n"
                      f"Message-ID: <r1@cv.example>\r\n\r\nMasih belum bisa.\r\n".encode())
    maild(desk, "inject", str(reply))
    assert story(desk, a)[-1][0] == "reporter_replied"


def test_list_filters_json_and_csv(desk: Path) -> None:
    a = new_ticket(desk)
    maild(desk, "tickets", "new", "--subject", "Server down", "--text", "SPSE tidak bisa diakses", "--name", "P",
          "--channel", "telepon")
    maild(desk, "tickets", "resolve", a, "beres")
    open_ = json.loads(maild(desk, "tickets", "list", "--state", "open", "--json").stdout)
    assert [t["subject"] for t in open_] == ["Server down"]
    found = json.loads(maild(desk, "tickets", "list", "--search", "LUPA PASSWORD", "--json").stdout)
    assert [t["number"] for t in found] == [a]
    assert json.loads(maild(desk, "tickets", "list", "--category", "jaringan_server", "--json").stdout)[0][
        "subject"] == "Server down"
    csv_out = maild(desk, "tickets", "list", "--csv").stdout.splitlines()
    assert csv_out[0].startswith("number,state") and len(csv_out) == 3
    assert json.loads(maild(desk, "tickets", "list", "--overdue", "--json").stdout) == []
    assert json.loads(maild(desk, "tickets", "list", "--from", "2020-01-01", "--to", "2020-01-31", "--json").stdout) == []


def test_staff_and_groups_are_kept_in_the_config(desk: Path) -> None:
    staff = json.loads(maild(desk, "staff", "list", "--json").stdout)
    assert {(s["role"], s["address"]) for s in staff} == {("staff", STAFF), ("coordinator", COORD)}
    assert "infrastruktur" in maild(desk, "groups", "list").stdout
    add = maild(desk, "staff", "add", "baru@lpse.example", ok=False)
    assert add.returncode == 1 and "config file" in add.stderr and "nothing was changed" in add.stderr


def test_form_report_and_register_from_the_cli(desk: Path, tmp_path: Path) -> None:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from openpyxl import load_workbook
    from pypdf import PdfReader

    n = new_ticket(desk)
    maild(desk, "tickets", "escalate", n, "infrastruktur", "cek", "server")
    maild(desk, "tickets", "resolve", n, "Password", "sudah", "direset")
    maild(desk, "form", n, "--pdf", str(tmp_path / "f.pdf"), "--html", str(tmp_path / "f.html"))
    text = " ".join((p.extract_text() or "") for p in PdfReader(tmp_path / "f.pdf").pages)
    for words in (n, "Budi", "Tim Infrastruktur", "Password sudah direset", "Telepon"):
        assert words in text
    assert n in (tmp_path / "f.html").read_text()

    month = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Makassar")).strftime("%Y-%m")
    out = maild(desk, "report", "--month", month, "--out", str(tmp_path / "rep")).stdout
    assert "wrote" in out and list((tmp_path / "rep").glob("*.html")) and list((tmp_path / "rep").glob("*.csv"))
    assert maild(desk, "report", "--month", "2026-13", ok=False).returncode == 2

    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Makassar")).strftime("%Y-%m-%d")
    csv_text = maild(desk, "export", "register", "--from", today, "--to", today).stdout
    assert csv_text.splitlines()[0].lstrip("\ufeff").startswith("No. Tiket,")
    assert n in csv_text and "Tim Infrastruktur" in csv_text
    maild(desk, "export", "register", "--from", today, "--to", today, "--format", "xlsx",
          "--out", str(tmp_path / "r.xlsx"))
    sheet = load_workbook(tmp_path / "r.xlsx").active
    header = [c.value for c in sheet[1]]
    assert header[0] == "No. Tiket" and sheet.cell(2, 1).value == n
    assert sheet.cell(2, header.index("Hasil") + 1).value.startswith("Password sudah direset")


def test_phone_report_without_address_keeps_the_reporter_and_says_to_call(desk: Path) -> None:
    """Issue 11 item 3: name and contact recorded and shown; an answer that cannot be mailed is
    recorded as such and the staff member is told to call."""
    out = maild(desk, "tickets", "new", "--subject", "Tidak bisa unggah dokumen", "--text", "Gagal unggah",
                "--name", "Joko Susilo", "--contact", "0811-5432-100", "--channel", "telepon", "--as", COORD,
                "--json").stdout
    number = json.loads(out)["number"]
    shown = json.loads(maild(desk, "tickets", "show", number, "--json").stdout)
    assert (shown["reporter_name"], shown["contact"]) == ("Joko Susilo", "0811-5432-100")
    [(template, to, text)] = db(desk).execute("SELECT template, recipient, raw FROM outbox").fetchall()
    assert (template, to) == ("new_ticket", STAFF)
    body = email.message_from_bytes(text, policy=policy.default).get_body(("plain",)).get_content()
    assert "Joko Susilo" in body and "0811-5432-100" in body  # the staff see who to call
    done = maild(desk, "tickets", "reply", number, "Silakan", "kompres", "dokumen", "--as", STAFF).stdout
    assert "answered_by_hand" in done
    detail = db(desk).execute("SELECT e.detail FROM events e JOIN tickets t ON t.id = e.ticket_id "
                              "WHERE t.number = ? AND e.event = 'staff_answered'", (number,)).fetchone()[0]
    assert "no address" in json.loads(detail)["not_mailed"]
    assert [t for t, _ in mail(desk)].count("answer") == 0


def test_the_record_names_who_really_acted(desk: Path) -> None:
    n = new_ticket(desk)
    maild(desk, "tickets", "note", n, "dicek", "--as", COORD)
    maild(desk, "tickets", "note", n, "dicek", "lagi")  # helpdesk.cli_actor
    env_done = maild(desk, "tickets", "note", n, "dari", "env", env={"MAILD_ACTOR": COORD})
    assert env_done.returncode == 0
    assert [a for e, _, a in story(desk, n) if e == "note_added"] == [COORD, STAFF, COORD]
    # Someone outside the team is refused, and nothing is recorded.
    outsider = maild(desk, "tickets", "note", n, "x", "--as", "budi@cv.example", ok=False)
    assert outsider.returncode == 2 and "budi@cv.example is not a staff member" in outsider.stderr
    assert len([e for e, _, _ in story(desk, n) if e == "note_added"]) == 3
    # With no one named, the CLI asks instead of guessing the first staff member.
    desk.write_text(desk.read_text().replace(f'cli_actor = "{STAFF}"', 'cli_actor = ""'))
    nobody = maild(desk, "tickets", "note", n, "x", ok=False)
    assert nobody.returncode == 2 and "say who acts" in nobody.stderr
    # A phone report names who took the call.
    out = maild(desk, "tickets", "new", "--subject", "Telepon", "--text", "Minta info", "--name", "Joko",
                "--contact", "0811", "--as", COORD)
    phone = out.stdout.split()[1]
    assert story(desk, phone)[0] == ("report_received", 1, COORD)

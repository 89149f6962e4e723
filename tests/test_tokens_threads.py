"""The subject token, our Message-IDs and the threading decision (pure core, table tests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from maild.sop import threads
from maild.sop.threads import Candidates, TicketRef, decide
from maild.mail.tokens import (
    clean_subject,
    find_number,
    format_number,
    format_token,
    mint_message_id,
    read_minted_id,
    verify_minted_id,
)

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=14)


def test_number_and_token_format() -> None:
    assert format_number(2026, 1) == "26-0001"
    assert format_number(2027, 12345) == "27-12345"
    assert format_token("LPSE", "26-0001") == "[LPSE #26-0001]"


@pytest.mark.parametrize(
    "subject",
    [
        "[LPSE #26-0042] Laporan diterima: tidak bisa login",
        "Re: [LPSE #26-0042] Laporan diterima",
        "RE: RE: [LPSE #26-0042] x",
        "Fwd: FW: TR: AW: [LPSE #26-0042]",
        "Balas: Bls: Trs: [LPSE #26-0042] x",
        "[External] Re: [LPSE #26-0042] x",
        "Re: [lpse #26-0042]",
        "Re:[LPSE#26-0042]",
        "Re: [ LPSE # 26-0042 ] spaced",
        "tolong cek [LPSE #26-0042] lagi",
    ],
)
def test_token_found_through_prefixes(subject: str) -> None:
    assert find_number(subject, "LPSE") == "26-0042"


@pytest.mark.parametrize(
    "subject", ["Re: LPSE 26-0042", "[LPSE 26-0042]", "[OTHER #26-0042]", "#26-0042", "[LPSE #2-0042]", ""]
)
def test_no_token(subject: str) -> None:
    assert find_number(subject, "LPSE") is None


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: [LPSE #26-0001] Laporan diterima: Akun terkunci", "Laporan diterima: Akun terkunci"),
        ("RE: Fwd: Balas: Upload dokumen gagal", "Upload dokumen gagal"),
        ("[External] AW: Sertifikat elektronik", "Sertifikat elektronik"),
        ("Re:  Re:   spasi   ganda", "spasi ganda"),
        ("Regarding login", "Regarding login"),
    ],
)
def test_clean_subject(subject: str, clean: str) -> None:
    assert clean_subject(subject, "LPSE") == clean


def test_minted_message_id_round_trip_and_signature() -> None:
    key = b"k" * 32
    mid = mint_message_id(key, "lpse.example", "26-0007", "mid:abc/ack/budi@x.id", "budi@x.id", 20454)
    assert mid == mint_message_id(key, "lpse.example", "26-0007", "mid:abc/ack/budi@x.id", "budi@x.id", 20454)
    minted = read_minted_id(mid, "lpse.example")
    assert minted is not None and minted.number == "26-0007" and minted.day == 20454
    assert verify_minted_id(key, minted, "BUDI@x.id")
    assert not verify_minted_id(key, minted, "mallory@x.id")
    assert not verify_minted_id(b"other", minted, "budi@x.id")
    assert read_minted_id(mid, "other.example") is None
    assert read_minted_id("abc@lpse.example", "lpse.example") is None


def ref(state: str = "new", parties: tuple[str, ...] = ("budi@x.id",), closed: datetime | None = None,
        id: int = 1) -> TicketRef:
    return TicketRef(id, f"26-000{id}", state, closed, frozenset(parties))


STAFF = frozenset({"petugas@lpse.id"})


@pytest.mark.parametrize(
    ("sender", "cands", "action", "reason_part"),
    [
        ("budi@x.id", Candidates(), threads.NEW, "no known reference"),
        ("budi@x.id", Candidates(token="26-9999"), threads.NEW, "does not exist"),
        ("budi@x.id", Candidates(by_token=ref()), threads.FOLLOW_UP, "subject token"),
        ("budi@x.id", Candidates(by_reference=ref(), reference="m@x"), threads.FOLLOW_UP, "In-Reply-To"),
        ("budi@x.id", Candidates(by_reference=ref(id=1), reference="m@x", by_token=ref(id=2)), threads.FOLLOW_UP,
         "reference wins"),
        ("petugas@lpse.id", Candidates(by_token=ref()), threads.FOLLOW_UP, "subject token"),
        ("mallory@evil.id", Candidates(by_token=ref()), threads.NEW_LINKED, "not a party"),
        ("mallory@evil.id", Candidates(by_reference=ref(), reference="m@x"), threads.NEW_LINKED, "not a party"),
        ("budi@x.id", Candidates(by_token=ref("closed", closed=NOW - timedelta(days=3))), threads.REOPEN, "reopened"),
        ("budi@x.id", Candidates(by_token=ref("closed", closed=NOW - timedelta(days=30))), threads.NEW_LINKED,
         "more than 14 days"),
    ],
)
def test_thread_decision(sender: str, cands: Candidates, action: str, reason_part: str) -> None:
    decision = decide(sender, cands, STAFF, NOW, WINDOW)
    assert decision.action == action
    assert reason_part in decision.reason

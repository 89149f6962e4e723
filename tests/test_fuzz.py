"""Fuzzing the parse and thread path: raw bytes -> parse -> screen/thread/tokens/quotes/commands/rules.

``parse`` must never raise, and nothing downstream may raise on what it returns. Three sources of
input, from least to most useful:

1. arbitrary bytes;
2. real messages from ../shared/corpus, mutated (bits flipped, bytes inserted and deleted, chunks
   duplicated, cut, spliced with another message, line endings converted): a small mutation
   fuzzer made of hypothesis strategies;
3. a generator of plausible-but-broken mail: random headers (RFC 2047 words with random charsets
   and broken base64/QP, 8-bit bytes, huge lines, junk In-Reply-To/References/Date), bare LF and
   CRLF mixed, multipart with random/missing/duplicated boundaries, nested message/rfc822, random
   Content-Transfer-Encoding and charset parameters, RFC 2231 parameters, and a Subject that may
   carry our token ``[LPSE #26-0001]`` behind reply prefixes (then ``find_number`` must find it).

Bounded time: the "ci" profile (the default) keeps the whole file to about ten seconds;
``HYPOTHESIS_PROFILE=long`` runs twenty times as many examples for a local session. The profiles
are registered as ``maild-fuzz-ci`` / ``maild-fuzz-long`` so that Hypothesis's own built-in "ci"
profile, which other test files get when CI is set, is left alone.

The example database is ``tests/fuzz_corpus/`` and is meant to be committed: Hypothesis saves every
failing example there, and the next run (in CI too) replays those first. If that directory cannot
be written (a read-only checkout), the saved examples are still replayed, read-only, and new ones
go to memory: the test never fails because of the directory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import quopri
import tempfile
import unicodedata
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    InMemoryExampleDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)

from maild.sop import commands

from maild.mail import screen

from maild.sop import threads

from maild.mail import tokens
from maild.mail.keys import key_for
from maild.mail.parse import ParsedMail, parse
from maild.mail.quotes import split_reply
from maild.sop.rule_file import RuleSet, load_rules
from maild.sop.rule_match import RuleContext
from maild.sop.rules import classify
from maild.sop.vocabulary import Priority, TicketType

HERE = Path(__file__).resolve().parent
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FUZZ_DB_DIR = HERE / "fuzz_corpus"
RULES_FILE = HERE.parent / "templates" / "config" / "rules.toml"

TAG = "LPSE"
OWN_ADDRESSES = frozenset({"helpdesk@lpse.example.id", "noreply@lpse.example.id"})
MID_DOMAIN = "lpse.example.id"
STAFF = frozenset({"staf@lpse.example.id", "koordinator@lpse.example.id"})
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
REOPEN_WINDOW = timedelta(days=14)


# ------------------------------------------------------------------------------------------
# Settings: bounded profiles and an example database that survives a read-only checkout
# ------------------------------------------------------------------------------------------


def example_database(path: Path) -> ExampleDatabase:
    """The committed directory database if it can be written; else its saved examples, read-only,
    in front of an in-memory database."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError:
        if path.is_dir():
            return MultiplexedDatabase(InMemoryExampleDatabase(), ReadOnlyDatabase(DirectoryBasedExampleDatabase(path)))
        return InMemoryExampleDatabase()
    return DirectoryBasedExampleDatabase(path)


FUZZ_DB = example_database(FUZZ_DB_DIR)

_COMMON = {
    "deadline": None,
    "database": FUZZ_DB,
    "print_blob": True,
    # Mail is big and each example runs the whole path: neither is a problem to be warned about.
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
}
settings.register_profile("maild-fuzz-ci", derandomize=False, **_COMMON)
settings.register_profile("maild-fuzz-long", derandomize=False, **_COMMON)
PROFILE = "long" if os.environ.get("HYPOTHESIS_PROFILE", "").strip() in ("long", "maild-fuzz-long") else "ci"
SCALE = {"ci": 1, "long": 20}[PROFILE]


def fuzz_settings(examples: int) -> settings:
    """This file's profile, with ``examples`` per test in CI (times twenty in the long profile)."""
    return settings(
        settings.get_profile(f"maild-fuzz-{PROFILE}"),
        max_examples=examples * SCALE,
        deadline=None,
        database=FUZZ_DB,
    )


# ------------------------------------------------------------------------------------------
# The property: everything downstream of parse, on one raw message
# ------------------------------------------------------------------------------------------


@cache
def shipped_rules() -> RuleSet:
    return load_rules(RULES_FILE)


_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # what quotes.py treats as blank
_SCREEN_KINDS = {screen.HUMAN, screen.AUTO_REPLY, screen.BOUNCE, screen.BULK, screen.OWN_LOOP}
_THREAD_ACTIONS = {threads.NEW, threads.FOLLOW_UP, threads.REOPEN, threads.NEW_LINKED}


def check_reply_text(text: str) -> None:
    """split_reply and parse_commands on one text, as the pipeline calls them."""
    reply = split_reply(text)
    assert reply.how, reply
    if any(ch not in _INVISIBLE and not ch.isspace() for ch in text):
        # documented: "never returns an empty text for a non-blank input"
        assert reply.text, f"split_reply lost all text of a non-blank input: {reply!r}"
    for part in (reply.text, text):
        parsed = commands.parse_commands(part)
        assert isinstance(parsed.body, str)
        assert all(c.name in set(commands.ALIASES.values()) for c in parsed.commands)


def check_subject(subject: str, expect_number: str | None = None) -> None:
    number = tokens.find_number(subject, TAG)
    assert number is None or number in subject
    if expect_number is not None:
        assert number is not None, f"our token [{TAG} #{expect_number}] is not found in {subject!r}"
        assert expect_number in tokens.token_pattern(TAG).findall(subject), (subject, number)
    cleaned = tokens.clean_subject(subject, TAG)
    assert tokens.clean_subject(cleaned, TAG) == cleaned, f"clean_subject is not idempotent on {subject!r}"


def check_message(raw: bytes, expect_number: str | None = None) -> ParsedMail:
    """parse and everything the pipeline then does with the result; returns the parsed mail."""
    mail = parse(raw)
    assert isinstance(mail, ParsedMail)
    # parse's last resort (the whole message as text) is allowed, but counted in the statistics
    # (pytest --hypothesis-show-statistics): input that lands there often is worth a real fix.
    fallback = [d for d in mail.defects if d.startswith("ParseError:")]
    if fallback and currently_in_test_context():
        event(f"parse fell back: {fallback[0]}")

    # parse: consistent values
    assert mail.size == len(raw)
    assert "\r" not in mail.subject and "\n" not in mail.subject, repr(mail.subject)
    for name, value in mail.headers:
        assert "\r" not in value and "\n" not in value, (name, value)
    if mail.sender is not None:
        address = mail.sender.address
        assert address == address.lower() and "@" in address and " " not in address, mail.sender
    for addr in (*mail.to, *mail.cc, *mail.reply_to):
        assert addr.address == addr.address.lower() and "@" in addr.address, addr
    if mail.return_path is not None:
        assert mail.return_path == mail.return_path.lower()
    if mail.date is not None:
        assert mail.date.utcoffset() is not None
    for att in mail.attachments:
        name = att.filename
        assert name and name not in (".", ".."), att
        assert "/" not in name and "\\" not in name, f"path separator in attachment filename {name!r}"
        assert not any(ch in _CONTROL or unicodedata.category(ch) == "Cc" for ch in name), (
            f"control character in attachment filename {name!r}"
        )
        assert len(name) <= 120, f"attachment filename of {len(name)} characters"
        assert isinstance(att.content, bytes)
    assert isinstance(mail.text, str) and (mail.html is None or isinstance(mail.html, str))

    # ingest: the idempotency key
    k1, k2 = key_for(raw), key_for(raw)
    assert k1 == k2
    assert k1.sha256 == hashlib.sha256(raw).hexdigest()
    assert len(k1.key) <= 400 and k1.key.startswith(("mid:", "sha256:"))
    assert (k1.message_id is None) == k1.key.startswith("sha256:")

    # screening, tokens, threading, proof of our own Message-IDs
    verdict = screen.screen(mail, OWN_ADDRESSES, MID_DOMAIN)
    assert verdict.kind in _SCREEN_KINDS
    check_subject(mail.subject, expect_number)
    sender = mail.sender.address if mail.sender else ""
    for mid in (*mail.in_reply_to, *mail.references):
        minted = tokens.read_minted_id(mid, MID_DOMAIN)
        if minted is not None:
            assert "." not in minted.number + minted.key_hash + minted.signature
            tokens.verify_minted_id(b"k" * 32, minted, sender)
    number = tokens.find_number(mail.subject, TAG)
    for state in ("open", "closed"):
        ref = threads.TicketRef(1, number or "26-0001", state, mail.date or NOW, frozenset({sender}))
        other = threads.TicketRef(2, "26-0002", state, None, frozenset())
        reference = (mail.in_reply_to or mail.references or ("",))[0]
        for cands in (
            threads.Candidates(),
            threads.Candidates(ref, reference, other if number else None, number),
            threads.Candidates(None, "", other if number else None, number),
        ):
            decision = threads.decide(sender, cands, STAFF, NOW, REOPEN_WINDOW)
            assert decision.action in _THREAD_ACTIONS and decision.reason

    # the reply text, commands, rules
    check_reply_text(mail.text)
    for in_hours in (True, False):
        context = RuleContext(received_at=mail.date or NOW, in_working_hours=in_hours)
        verdict_rules = classify(mail, shipped_rules(), context)
        assert verdict_rules.type is None or verdict_rules.type in tuple(TicketType)
        assert verdict_rules.priority is None or verdict_rules.priority in tuple(Priority)
    return mail


# ------------------------------------------------------------------------------------------
# Seeds from the shared corpus, and the mutation fuzzer
# ------------------------------------------------------------------------------------------


@cache
def corpus_seeds() -> tuple[bytes, ...]:
    """A few real messages of every category in the corpus index (the two smallest of each
    category between 300 bytes and 6 KB, so that mutations stay cheap)."""
    assert CORPUS.is_dir(), f"the shared corpus is missing at {CORPUS}"
    index = CORPUS / "INDEX.tsv"
    assert index.is_file(), f"the shared corpus has no INDEX.tsv at {index}"
    rows = [line.split("\t") for line in index.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    picked: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (int(r[5]) if r[5].isdigit() else 0, r[0])):
        size = int(row[5]) if row[5].isdigit() else 0
        if 300 <= size <= 6000 and len(picked.setdefault(row[2], [])) < 2:
            picked[row[2]].append(row[0])
    seeds = tuple((CORPUS / path).read_bytes() for paths in picked.values() for path in paths)
    assert len(seeds) >= 10, f"only {len(seeds)} seed messages found in {CORPUS}"
    return seeds


INTERESTING_BYTES = [
    b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\n\n", b" ", b"\t", b"\x00", b"\xff", b"\xc3", b"\xe9", b"\x1b$B",
    b":", b";", b"=", b"==", b"=?", b"?=", b"?", b'"', b"'", b"<", b">", b"@", b"--", b"*", b"%", b"\\",
    b"=?utf-8?b?", b"=?undefined?q?x?=", b"boundary=", b"charset=", b"name*0*=", b"filename*=utf-8''%2e%2e%2f",
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"Subject: Re: [LPSE #26-0001]\r\n", b"\r\n--", b"99999999999999999999", b"+9999", b"\x80\x81\x8d\x8f\x90\x9d",
]


def mutate(draw: st.DrawFn, data: bytes, max_ops: int, others: tuple[bytes, ...] = ()) -> bytes:
    """Apply up to ``max_ops`` random byte-level mutations to ``data``."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.integers(0, 8))
        pos = draw(st.integers(0, len(raw)))
        if op == 0 and raw:  # flip one bit
            pos = min(pos, len(raw) - 1)
            raw[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:  # insert something interesting
            raw[pos:pos] = draw(st.sampled_from(INTERESTING_BYTES) | st.binary(min_size=1, max_size=16))
        elif op == 2:  # delete a run
            del raw[pos : pos + draw(st.integers(1, 64))]
        elif op == 3:  # cut: keep the head or the tail
            raw = raw[:pos] if draw(st.booleans()) else raw[pos:]
        elif op == 4 and raw:  # duplicate a chunk somewhere
            start = draw(st.integers(0, len(raw) - 1))
            chunk = raw[start : start + draw(st.integers(1, 256))]
            raw[pos:pos] = chunk * draw(st.integers(1, 4))
        elif op == 5 and raw:  # overwrite a byte
            pos = min(pos, len(raw) - 1)
            raw[pos] = draw(st.integers(0, 255))
        elif op == 6:  # convert the line endings
            raw = bytearray(
                draw(
                    st.sampled_from(
                        [
                            bytes(raw).replace(b"\r\n", b"\n"),
                            bytes(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
                            bytes(raw).replace(b"\r\n", b"\r"),
                        ]
                    )
                )
            )
        elif op == 7 and others:  # splice with another message
            other = others[draw(st.integers(0, len(others) - 1))]
            raw = raw[:pos] + other[draw(st.integers(0, len(other))) :]
        elif op == 8:  # a huge run of one byte (a huge header line, a huge body line)
            raw[pos:pos] = draw(st.sampled_from([b"x", b"=", b" ", b"\xe9", b">"])) * draw(st.integers(500, 20_000))
    return bytes(raw)


@st.composite
def mutated_seed(draw: st.DrawFn) -> bytes:
    seeds = corpus_seeds()
    seed = seeds[draw(st.integers(0, len(seeds) - 1))]
    return mutate(draw, seed, 10, seeds)


# ------------------------------------------------------------------------------------------
# The generator of plausible-but-broken mail
# ------------------------------------------------------------------------------------------

# Charsets: what mail declares, every codec name Python knows (some are not text codecs at all,
# some raise UnicodeError rather than UnicodeDecodeError), and junk.
MAIL_CHARSETS = [
    "utf-8", "UTF-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "ISO-8859-1", "latin1", "windows-1252",
    "iso-8859-2", "iso-8859-15", "windows-1251", "koi8-r", "gb2312", "gbk", "GB18030", "big5", "shift_jis",
    "x-sjis", "euc-jp", "iso-2022-jp", "euc-kr", "ks_c_5601-1987", "iso-8859-8-i", "utf-16", "utf-16le",
    "utf-32", "utf-7", "unicode-1-1-utf-7", "unknown-8bit", "x-unknown", "default", "x-user-defined", "",
    '"utf-8"', "utf-8*id", "bogus", "cp65001", "tis-620", "viscii",
]
PYTHON_CODECS = [
    "undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape", "utf-8-sig", "palmos", "hz",
    "ascii", "base64_codec", "big5hkscs", "bz2_codec", "cp037", "cp1026", "cp1125", "cp1140", "cp1250",
    "cp1253", "cp1255", "cp1256", "cp273", "cp424", "cp437", "cp500", "cp850", "cp864", "cp932", "cp949",
    "cp950", "euc_jis_2004", "euc_jisx0213", "hex_codec", "hp_roman8", "iso2022_jp_2", "iso2022_jp_ext",
    "iso2022_kr", "iso8859_11", "iso8859_16", "johab", "kz1048", "mac_cyrillic", "mac_roman", "mbcs",
    "ptcp154", "quopri_codec", "rot_13", "shift_jis_2004", "utf_16_be", "utf_32_le", "uu_codec", "zlib_codec",
]
CHARSET = st.sampled_from(MAIL_CHARSETS) | st.sampled_from(PYTHON_CODECS) | st.from_regex(
    r"[A-Za-z0-9_.:*'-]{0,24}", fullmatch=True
)
# Charsets that round-trip ASCII, for the encoded word that carries our token.
TOKEN_CHARSETS = ["utf-8", "UTF-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-8859-15", "koi8-r", "gb2312",
                  "gbk", "big5", "shift_jis", "euc-kr", "iso-2022-jp", "utf-16", "utf-7"]

EOL_MODES = ["crlf", "lf", "mixed"]
_WORDS = ["lupa", "password", "akun", "terkunci", "gagal", "upload", "dokumen", "penawaran", "error", "tidak",
          "bisa", "login", "SPSE", "verifikasi", "NPWP", "mohon", "bantuan", "tender", "e-katalog", "Re:", "Fwd:"]
UNICODE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
)
PLAIN_TEXT = st.lists(st.sampled_from(_WORDS) | UNICODE_TEXT, max_size=8).map(" ".join)
REPLY_PREFIXES = ["Re: ", "RE: ", "re:", "Fwd: ", "FW: ", "AW: ", "Aw:", "SV: ", "Antw: ", "Balas: ", "Bls: ",
                  "TR: ", "WG: ", "RV: ", "Re[2]: ", "Re [3] : ", "R: ", "[EXTERNAL] ", "[SPAM] ", "[Ticket] ",
                  "Re：", "  "]
HEADER_NAMES = [
    "From", "To", "Cc", "Bcc", "Reply-To", "Sender", "Return-Path", "Message-ID", "Message-Id", "In-Reply-To",
    "References", "Date", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Content-Disposition", "Content-ID", "Auto-Submitted", "Precedence", "X-Precedence", "List-Id",
    "List-Unsubscribe", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Maild-Loop",
    "Authentication-Results", "X-Spam-Flag", "X-Spam-Status", "Received", "X-Mailer", "Thread-Topic",
    "Importance", "X-Priority", "Delivered-To",
]


def encode_text(text: str, charset: str) -> bytes:
    """``text`` in ``charset`` if Python can, else UTF-8 (mail lies about its charset anyway)."""
    try:
        return text.encode(charset.strip('"').split("*")[0], "replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return text.encode("utf-8", "surrogatepass")


def q_encode(data: bytes) -> bytes:
    """RFC 2047 'Q' encoding."""
    out = bytearray()
    for b in data:
        if b == 0x20:
            out += b"_"
        elif 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b in b"!*+-/":
            out.append(b)
        else:
            out += b"=%02X" % b
    return bytes(out)


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n`` draws (Hypothesis favours the bounds, so not ``== 0``)."""
    return draw(st.integers(1, n)) == n // 2 + 1


@st.composite
def eol(draw: st.DrawFn, mode: str) -> bytes:
    if mode == "crlf":
        return b"\r\n"
    if mode == "lf":
        return b"\n"
    return draw(st.sampled_from([b"\r\n", b"\n", b"\r\n", b"\n", b"\r"]))


@st.composite
def encoded_word(draw: st.DrawFn) -> bytes:
    """An RFC 2047 word, valid or broken: random charset, bad base64 padding, bad QP escapes."""
    charset = draw(CHARSET)
    data = draw(st.binary(max_size=48) | UNICODE_TEXT.map(lambda t: encode_text(t, charset)))
    how = draw(st.sampled_from(["b", "b-broken", "q", "q-broken", "raw"]))
    if how == "b":
        payload = base64.b64encode(data)
    elif how == "b-broken":
        payload = base64.b64encode(data).rstrip(b"=")
        cut = draw(st.integers(0, len(payload)))
        junk = draw(st.sampled_from([b"", b"=", b"==", b"===", b"*", b"-_", b"\xff", b"A"]))
        payload = payload[:cut] + junk + payload[cut:]
    elif how == "q":
        payload = q_encode(data)
    elif how == "q-broken":
        payload = q_encode(data) + draw(st.sampled_from([b"=", b"=Z", b"=ZZ", b"=\xe9", b"=0", b"_=\r\n"]))
    else:
        payload = draw(st.binary(max_size=24))
    letters = {"b": [b"B", b"b"], "q": [b"Q", b"q"], "r": [b"B", b"Q", b"X", b""]}[how[0]]
    enc = draw(st.sampled_from(letters))
    end = draw(st.sampled_from([b"?=", b"?=", b"?=", b"", b"?"]))
    return b"=?" + charset.encode("ascii", "replace") + b"?" + enc + b"?" + payload + end


@st.composite
def text_8bit(draw: st.DrawFn) -> bytes:
    """Header text as unencoded 8-bit bytes in some charset, or raw bytes (no line breaks)."""
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=40))
    else:
        raw = encode_text(draw(PLAIN_TEXT), draw(st.sampled_from(MAIL_CHARSETS)))
    return raw.replace(b"\r", b" ").replace(b"\n", b" ")


@st.composite
def address(draw: st.DrawFn) -> bytes:
    local = draw(st.from_regex(r"[A-Za-z0-9._%+=-]{1,20}", fullmatch=True) | st.sampled_from(
        ["mailer-daemon", "MAILER-DAEMON", "postmaster", "noreply", "no-reply", "helpdesk", "Helpdesk", "staf"]))
    domain = draw(st.from_regex(r"[A-Za-z0-9-]{1,15}(\.[A-Za-z]{2,6}){1,2}", fullmatch=True) | st.sampled_from(
        ["lpse.example.id", "LPSE.Example.ID", "cv-maju.co.id", "gmail.com"]))
    addr = f"{local}@{domain}".encode()
    form = draw(st.integers(0, 9))
    if form == 0:
        return addr
    if form == 1:
        return b"<" + addr + b">"
    if form == 2:
        name = draw(PLAIN_TEXT).encode("utf-8", "surrogatepass").replace(b"\n", b" ").replace(b"\r", b" ")
        return name + b" <" + addr + b">"
    if form == 3:
        return b'"' + draw(text_8bit()).replace(b'"', b"") + b'" <' + addr + b">"
    if form == 4:
        return draw(encoded_word()) + b" <" + addr + b">"
    if form == 5:
        return draw(st.sampled_from([b"<>", b"<", b">", b"@", b"<<a@b>>", b"a@b@c", b"undisclosed-recipients:;",
                                     b"group: a@b.id, c@d.id;", b'"@"@x', b"a @ b", b"(comment) a@b.id"]))
    if form == 6:
        return addr + b" (" + draw(text_8bit()).replace(b")", b"") + b")"
    if form == 7:
        return draw(text_8bit())
    return addr.upper()


@st.composite
def address_list(draw: st.DrawFn) -> bytes:
    return b", ".join(draw(st.lists(address(), min_size=1, max_size=4)))


@st.composite
def message_id(draw: st.DrawFn) -> bytes:
    form = draw(st.integers(0, 6))
    if form == 0:
        mid = draw(st.from_regex(r"[A-Za-z0-9.$_%+-]{1,30}@[A-Za-z0-9.-]{1,20}", fullmatch=True))
        return b"<" + mid.encode() + b">"
    if form == 1:  # one of ours, with random parts
        parts = draw(st.lists(st.from_regex(r"[0-9a-f-]{0,20}", fullmatch=True), min_size=1, max_size=5))
        domain = draw(st.sampled_from([MID_DOMAIN, MID_DOMAIN.upper(), "other.example"]))
        return f"<maild.{'.'.join(parts)}@{domain}>".encode()
    if form == 2:
        return draw(st.sampled_from([b"<>", b"<", b">", b"<<>>", b"< a @ b >", b"a@b", b"<a@b", b"<@>", b"<a b@c>"]))
    if form == 3:  # a very long one
        return b"<" + b"x" * draw(st.integers(800, 3000)) + b"@example.id>"
    if form == 4:
        return draw(text_8bit())
    if form == 5:
        return draw(encoded_word())
    return b"<" + draw(st.binary(max_size=30)).replace(b"\n", b"").replace(b"\r", b"") + b">"


@st.composite
def message_id_list(draw: st.DrawFn) -> bytes:
    sep = draw(st.sampled_from([b" ", b"", b",", b"\r\n ", b"\n\t"]))
    return sep.join(draw(st.lists(message_id(), min_size=0, max_size=5)))


@st.composite
def date_value(draw: st.DrawFn) -> bytes:
    form = draw(st.integers(0, 4))
    if form == 0:
        when = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                                 timezones=st.just(timezone.utc)))
        return format_datetime(when).encode()
    if form == 1:  # numbers out of every range
        num = st.from_regex(r"[0-9]{1,22}", fullmatch=True)
        return (f"{draw(st.sampled_from(['Mon, ', '', 'Xyz, ']))}{draw(num)} "
                f"{draw(st.sampled_from(['Jan', 'Feb', 'Foo', 'dec', '']))} {draw(num)} "
                f"{draw(num)}:{draw(num)}:{draw(num)} {draw(st.sampled_from(['+', '-', '']))}{draw(num)}").encode()
    if form == 2:
        return draw(st.sampled_from([b"", b"now", b"Mon, 32 Jan 2026", b"Fri, 31 Dec 9999 23:59:59 -1200",
                                     b"Mon, 1 Jan 0001 00:00:00 +1400", b"Tue, 29 Feb 2026 25:61:61 +2400",
                                     b"2026-11-02T09:15:00+07:00", b"Mon, 2 Nov 2026 09:15:00 WIB"]))
    if form == 3:
        return draw(text_8bit())
    return draw(st.from_regex(r"[A-Za-z0-9 ,:+-]{0,40}", fullmatch=True)).encode()


@st.composite
def token_subject(draw: st.DrawFn) -> tuple[bytes, str]:
    """A Subject value that carries our token, wrapped in reply prefixes and text; and its number."""
    number = draw(st.from_regex(r"[0-9]{2}-[0-9]{4,7}", fullmatch=True))
    token = draw(st.sampled_from(["[{t} #{n}]", "[{t} #{n}]", "[ {t} # {n} ]", "[{t}#{n}]", "[{l} #{n}]"]))
    token = token.format(t=TAG, l=TAG.lower(), n=number)
    before = "".join(draw(st.lists(st.sampled_from(REPLY_PREFIXES), max_size=4)))
    after = draw(PLAIN_TEXT)
    text = f"{before}{token} {after}" if draw(st.booleans()) else f"{before}{after} {token}"
    where = draw(st.integers(0, 3))
    if where == 0:  # as written, in UTF-8 or another ASCII-compatible charset
        value = encode_text(text, draw(st.sampled_from(["utf-8", "ascii", "latin-1"])))
    elif where == 1:  # the whole subject as one encoded word
        charset = draw(st.sampled_from(TOKEN_CHARSETS))
        data = encode_text(text, charset)
        if draw(st.booleans()):
            value = b"=?" + charset.encode() + b"?B?" + base64.b64encode(data) + b"?="
        else:
            value = b"=?" + charset.encode() + b"?Q?" + q_encode(data) + b"?="
    else:  # the token as plain text between (possibly broken) encoded words and 8-bit junk
        pieces = [encode_text(before, "ascii")]
        pieces += draw(st.lists(encoded_word() | text_8bit(), max_size=3))
        pieces.append(token.encode())
        pieces += draw(st.lists(encoded_word() | text_8bit(), max_size=3))
        value = b" ".join(pieces)
    return value.replace(b"\r", b" ").replace(b"\n", b" "), number


@st.composite
def header_value(draw: st.DrawFn, name: str) -> bytes:
    lname = name.lower()
    if lname in ("from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to"):
        value = draw(address_list())
    elif lname in ("message-id", "in-reply-to", "references"):
        value = draw(message_id_list())
    elif lname == "date":
        value = draw(date_value())
    elif lname == "auto-submitted":
        value = draw(st.sampled_from([b"auto-replied", b"auto-generated", b"no", b"No", b"", b" junk"]))
    elif lname in ("precedence", "x-precedence"):
        value = draw(st.sampled_from([b"bulk", b"junk", b"list", b"auto_reply", b"first-class", b""]))
    elif lname == "x-spam-flag":
        value = draw(st.sampled_from([b"YES", b"NO", b"yes"]))
    else:
        value = b" ".join(draw(st.lists(encoded_word() | text_8bit() | PLAIN_TEXT.map(str.encode), max_size=4)))
    return value


@st.composite
def header_lines(draw: st.DrawFn, mode: str) -> list[bytes]:
    """Random header lines (folded or not), each ending in a line break."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(HEADER_NAMES) | st.from_regex(r"[!-9;-~]{1,30}", fullmatch=True))
        if name.lower() == "subject":
            name = "X-Subject"
        form = draw(st.integers(0, 9))
        if form == 0:  # a huge line
            value = draw(st.sampled_from([b"x", b"=?utf-8?q?a?= ", b"\xe9", b"<a@b> ", b"a, "])) * draw(
                st.integers(100, 12_000))
        elif form == 1:  # anything at all, line breaks included
            value = draw(st.binary(max_size=60))
        else:
            value = draw(header_value(name))
        if draw(st.integers(0, 3)) == 0:  # fold it at a space
            cut = value.find(b" ", len(value) // 2)
            if cut > 0:
                value = value[:cut] + draw(eol(mode)) + draw(st.sampled_from([b" ", b"\t", b"  "])) + value[cut + 1 :]
        sep = draw(st.sampled_from([b": ", b": ", b":", b" : ", b":\t"]))
        lines.append(name.encode() + sep + value + draw(eol(mode)))
    return lines


@st.composite
def params(draw: st.DrawFn, wanted: dict[str, bytes]) -> bytes:
    """A MIME parameter list (``; a=b``) with the ``wanted`` ones, quoted or not, RFC 2231 or not,
    sometimes duplicated or broken."""
    out = b""
    for key, value in wanted.items():
        form = draw(st.integers(0, 6))
        k = key.encode()
        if form == 0:
            out += b"; " + k + b"=" + value
        elif form == 1 and value:  # RFC 2231 continuation
            mid = draw(st.integers(0, len(value)))
            out += b"; " + k + b"*0=\"" + value[:mid] + b"\"; " + k + b"*1=\"" + value[mid:] + b'"'
        elif form == 2:  # RFC 2231 extended value, possibly with a bad charset or bad escapes
            cs = draw(CHARSET).encode("ascii", "replace").replace(b"'", b"")
            pct = b"".join(b"%%%02X" % b if not chr(b).isalnum() else bytes([b]) for b in value)
            out += b"; " + k + b"*=" + cs + b"'" + draw(st.sampled_from([b"", b"en", b"id"])) + b"'" + pct
            out += draw(st.sampled_from([b"", b"", b"%", b"%Z", b"%ff"]))
        elif form == 3:  # RFC 2231 continuation of extended values, out of order or with a gap
            out += b"; " + k + b"*1*=%41%42; " + k + b"*0*=utf-8''" + value[:10] + b"; " + k + b"*3=x"
        elif form == 4:  # unterminated quote, missing "="
            out += draw(st.sampled_from([b"; " + k + b'="' + value, b"; " + k + b" " + value, b"; " + k]))
        else:
            out += b"; " + k + b'="' + value.replace(b'"', b'\\"') + b'"'
        if draw(st.integers(0, 5)) == 0:  # duplicated
            out += b"; " + k + b'="' + draw(st.binary(max_size=12)).replace(b"\n", b"") + b'"'
    return out


@st.composite
def filename(draw: st.DrawFn) -> bytes:
    form = draw(st.integers(0, 5))
    if form == 0:
        return draw(st.sampled_from([b"laporan.pdf", b"../../etc/passwd", b"..\\..\\boot.ini", b"/abs/path.txt",
                                     b"con", b"a\x00b.txt", b".", b"..", b"...", b" .hidden ", b"x" * 300 + b".pdf",
                                     b"y" * 300, b"C:\\Users\\a.docx", b"\xe9t\xe9.txt", b"name\r\n.txt"]))
    if form == 1:
        return draw(UNICODE_TEXT).encode("utf-8", "surrogatepass")
    if form == 2:
        return draw(encoded_word())
    if form == 3:
        return b"=?utf-8?b?" + base64.b64encode(draw(UNICODE_TEXT).encode("utf-8", "surrogatepass")) + b"?="
    if form == 4:
        return draw(st.binary(max_size=40))
    return draw(st.from_regex(r"[A-Za-z0-9 ._/\\-]{0,40}\.(pdf|docx|png|exe|eml)", fullmatch=True)).encode()


@st.composite
def quote_text(draw: st.DrawFn) -> str:
    """Reply-shaped text: new lines, quotes, attributions, boundaries, signatures, commands."""
    lines = draw(st.lists(st.sampled_from([
        "Terima kasih, sudah bisa login.", "> quoted line", ">", "> > deeper", "",
        "On Mon, 2 Nov 2026 at 09:15, Helpdesk <helpdesk@lpse.example.id> wrote:",
        "Pada tanggal Sen, 2 Nov 2026 09.15, Helpdesk <helpdesk@lpse.example.id>", "menulis:",
        "-----Original Message-----", "-----Pesan Asli-----", "_" * 30, "From: Helpdesk", "Sent: Monday",
        "Dari: Helpdesk", "Kepada: Budi", "Subjek: Re: [LPSE #26-0001]", "---------- Forwarded message ---------",
        "-- ", "\\--", "Sent from my iPhone", "Dikirim dari iPhone saya", "Get Outlook for iOS", "* * *",
        "**From:** Helpdesk", "#selesai Password sudah direset", "#status tunggu", "#prioritas tinggi",
        "#tugaskan staf@lpse.example.id", "#internal", "#status", "#unknown foo", "# status proses", "#jenis xyz",
        "\u200b", "\ufeff \u200b", " \t ",
    ]) | UNICODE_TEXT, max_size=14))
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)


LEAF_TYPES = ["text/plain", "text/plain", "text/html", "application/octet-stream", "application/pdf", "image/png",
              "text/calendar", "message/delivery-status", "text/rfc822-headers", "text", "", "foo/bar", "TEXT/PLAIN",
              "text/plain; format=flowed", "application/ms-tnef", "message/partial", "message/external-body"]
MULTI_TYPES = ["multipart/mixed", "multipart/alternative", "multipart/related", "multipart/report",
               "multipart/signed", "multipart/digest", "multipart/x-junk", "MULTIPART/ALTERNATIVE"]
CTES = ["7bit", "8bit", "binary", "base64", "BASE64", "quoted-printable", "Quoted-Printable", "x-uuencode",
        "uuencode", "x-uue", "junk", "", "base64 ", "8bit; foo"]
BOUNDARY = st.from_regex(r"[A-Za-z0-9'()+_,./:=? -]{0,70}", fullmatch=True) | st.sampled_from(
    ["", "=_", "--", "b", " b", "b ", "----=_NextPart_000_0001"])


def transfer_encode(draw: st.DrawFn, data: bytes, cte: str) -> bytes:
    """The body as the declared encoding would have it, or wrongly encoded, or broken."""
    how = draw(st.sampled_from(["as-declared", "as-declared", "as-declared", "raw", "broken"]))
    c = cte.strip().lower()
    if how == "raw" or c not in ("base64", "quoted-printable", "x-uuencode", "uuencode", "x-uue"):
        return data
    if c == "base64":
        enc = base64.encodebytes(data)
        if how == "broken":
            cut = draw(st.integers(0, len(enc)))
            enc = enc[:cut] + draw(st.sampled_from([b"=", b"!!", b"\xff", b"====", b"\n=\n", b"A"])) + enc[cut:]
        return enc
    if c == "quoted-printable":
        enc = quopri.encodestring(data)
        if how == "broken":
            enc += draw(st.sampled_from([b"=", b"=Z", b"=ZZ", b"=\xe9", b"=\r\n=", b"=0"]))
        return enc
    lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
    enc = b"begin 644 x.bin\n" + b"".join(lines) + b"`\nend\n"
    if how == "broken":
        enc = enc[: draw(st.integers(0, len(enc)))]
    return enc


@st.composite
def entity(draw: st.DrawFn, mode: str, depth: int, parent_boundary: bytes | None = None) -> bytes:
    """One MIME entity: its header lines, a blank line, its body."""
    e = draw(eol(mode))
    kinds = ["leaf", "leaf"] + (["multipart", "rfc822"] if depth > 0 else [])
    kind = draw(st.sampled_from(kinds))
    head: list[bytes] = []
    if kind == "multipart":
        ctype = draw(st.sampled_from(MULTI_TYPES))
        # A child multipart may reuse its parent's boundary (duplicated boundaries).
        declared = draw(BOUNDARY.map(str.encode) | st.just(parent_boundary or b"dup"))
        form = draw(st.integers(0, 5))
        wanted = {} if form == 0 else {"boundary": declared}  # form 0: boundary missing
        if ctype.endswith("report"):
            wanted["report-type"] = b"delivery-status"
        head.append(b"Content-Type: " + ctype.encode() + draw(params(wanted)) + e)
        used = declared if form != 1 else draw(BOUNDARY).encode()  # form 1: the body uses another one
        children = draw(st.lists(entity(mode, depth - 1, declared), max_size=4))
        body = draw(st.sampled_from([b"", b"This is a multi-part message in MIME format." + e]))
        for child in children:
            body += b"--" + used + draw(st.sampled_from([b"", b" ", b"\t"])) + draw(eol(mode)) + child + draw(eol(mode))
        if draw(st.integers(0, 3)):  # else: no closing boundary
            body += b"--" + used + b"--" + draw(eol(mode))
        body += draw(st.sampled_from([b"", b"epilogue" + e, b"--" + used + b"--" + e]))
    elif kind == "rfc822":
        wanted = {"name": draw(filename())} if draw(st.booleans()) else {}
        head.append(b"Content-Type: message/rfc822" + draw(params(wanted)) + e)
        if one_in(draw, 5):
            body = draw(st.sampled_from([b"", b"not a message at all"]))
        else:
            body = draw(mail_message(depth - 1))
    else:
        ctype = draw(st.sampled_from(LEAF_TYPES))
        charset = draw(CHARSET)
        cte = draw(st.sampled_from(CTES))
        wanted: dict[str, bytes] = {}
        if draw(st.booleans()):
            wanted["charset"] = charset.encode("ascii", "replace")
        if draw(st.integers(0, 2)) == 0:
            wanted["name"] = draw(filename())
        head.append(b"Content-Type: " + ctype.encode() + draw(params(wanted)) + e)
        if draw(st.booleans()):
            head.append(b"Content-Transfer-Encoding: " + cte.encode() + e)
        if draw(st.integers(0, 2)) == 0:
            disposition = draw(st.sampled_from([b"attachment", b"inline", b"ATTACHMENT", b"junk", b""]))
            fname = {"filename": draw(filename())} if draw(st.booleans()) else {}
            head.append(b"Content-Disposition: " + disposition + draw(params(fname)) + e)
        if draw(st.integers(0, 4)) == 0:
            head.append(b"Content-ID: " + draw(message_id()) + e)
        if ctype == "text/html":
            text = draw(st.lists(st.sampled_from([
                "<p>", "</p>", "<div>", "</div>", "<blockquote>", "</blockquote>", "<br>", "<b>From:</b> x", "<hr>",
                "<a href='http://x'>", "</a>", "<img src=cid:x>", "<script>", "<style>", "<!--", "-->",
                "<table><tr><td>",
                "&amp;", "&#0;", "&#x110000;", "&nbsp;", "<", ">", "<![CDATA[",
            ]) | UNICODE_TEXT, max_size=20).map("".join))
            if draw(st.integers(0, 9)) == 0:
                text = "<div>" * draw(st.integers(50, 600)) + text
        elif ctype.startswith("message/delivery"):
            text = "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; a@b.id\nAction: failed\nStatus: 5.1.1\n"
        elif ctype.startswith("text") or ctype in ("", "foo/bar"):
            text = draw(quote_text())
        else:
            text = ""
        data = encode_text(text, charset) if text else draw(st.binary(max_size=200))
        body = transfer_encode(draw, data, cte)
    sep = draw(st.sampled_from([e, e, e, b""]))  # b"": the blank line after the headers is missing
    return b"".join(head) + sep + body


@st.composite
def mail_message(draw: st.DrawFn, depth: int = 3) -> bytes:
    """A whole message, without a guaranteed token (used for nested message/rfc822 too)."""
    mode = draw(st.sampled_from(EOL_MODES))
    lines = draw(header_lines(mode))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), b"Subject: " + draw(header_value("Subject")) + draw(eol(mode)))
    if draw(st.booleans()):
        lines.append(b"MIME-Version: 1.0" + draw(eol(mode)))
    return b"".join(lines) + draw(entity(mode, depth))


@st.composite
def structured_mail(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A whole top-level message and the ticket number its Subject carries (None: no token, or
    the message was mutated afterwards so the token may be gone)."""
    mode = draw(st.sampled_from(EOL_MODES))
    number = None
    subject_line = b""
    if draw(st.booleans()):
        value, number = draw(token_subject())
        subject_line = b"Subject:" + draw(st.sampled_from([b" ", b"", b"\t"])) + value + draw(eol(mode))
    elif draw(st.booleans()):
        subject_line = b"Subject: " + draw(header_value("Subject")) + draw(eol(mode))
    # Our Subject comes first: a broken header further down may end the header block early
    # (that is what a parser must do), and then the token is rightly not in the subject.
    if one_in(draw, 40):
        body = draw(deep_nesting(mode))
        event("deeply nested MIME")
    else:
        body = draw(entity(mode, 3))
    raw = subject_line + b"".join(draw(header_lines(mode))) + body
    if one_in(draw, 5):
        raw = mutate(draw, raw, 4)
        number = None
        event("mutated after generation")
    event("subject carries our token" if number else "no token to look for")
    return raw, number


@st.composite
def deep_nesting(draw: st.DrawFn, mode: str) -> bytes:
    """Hundreds of nested multiparts or forwarded messages (more than the recursion limit)."""
    e = draw(eol(mode))
    levels = draw(st.integers(50, 1500))
    if draw(st.booleans()):
        out = b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d%s%s--b%d%s" % (i, e, e, i, e) for i in range(levels)
        )
    else:
        unit = draw(st.sampled_from([
            b"Content-Type: message/rfc822" + e + e,
            b"Content-Type: multipart/mixed; boundary=b" + e + e + b"--b" + e + b"Content-Type: message/rfc822" + e + e,
        ]))
        out = unit * levels
    return out + b"Content-Type: text/plain" + e + e + b"hello" + e


# ------------------------------------------------------------------------------------------
# The tests
# ------------------------------------------------------------------------------------------


@fuzz_settings(1000)
@given(raw=st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    check_message(raw)


@fuzz_settings(1000)
@given(raw=mutated_seed())
def test_mutated_corpus_messages(raw: bytes) -> None:
    check_message(raw)


@fuzz_settings(350)
@given(case=structured_mail())
def test_structured_broken_mail(case: tuple[bytes, str | None]) -> None:
    raw, number = case
    check_message(raw, expect_number=number)


SUBJECT_PIECES = st.sampled_from([
    f"[{TAG} #26-0001]", f"[{TAG} #26-0002]", f"[{TAG}", f"[{TAG} ", f"[{TAG}#", "#26-0003]", "26-0004", "]", "[",
    "[a", "b]", "[EXTERNAL]", " ", "  ", "\t", "\u00a0", "\u200b", "\u3000", "Re:", "RE: ", "Fwd:", "AW:", "Re[2]:",
    "：", "lupa password", "x", "é", "\x00", "\x85", "\u2028",
]) | st.text(max_size=6) | st.integers(20, 60).map(lambda n: " " * n) | st.integers(1, 10).map(
    lambda depth: f"[{TAG}" * depth + " #26-0001]" * depth  # tokens inside tokens: each removal exposes the next
)


@fuzz_settings(600)
@given(pieces=st.lists(SUBJECT_PIECES, max_size=12))
def test_subject_tokens(pieces: list[str]) -> None:
    """find_number never raises; clean_subject is idempotent on subjects built from the pieces
    that matter (tokens, brackets, prefixes, whitespace runs)."""
    check_subject("".join(pieces))


@fuzz_settings(200)
@given(
    number=st.from_regex(r"[0-9]{2}-[0-9]{4,7}", fullmatch=True),
    prefixes=st.lists(st.sampled_from(REPLY_PREFIXES), max_size=5),
    text=PLAIN_TEXT,
    recipient=st.emails(),
    day=st.integers(min_value=0, max_value=100_000),
)
def test_token_and_minted_id_round_trip(number: str, prefixes: list[str], text: str, recipient: str,
                                        day: int) -> None:
    """Whatever we write into a subject and a Message-ID, we read back."""
    subject = "".join(prefixes) + tokens.format_token(TAG, number) + " " + text
    check_subject(subject, expect_number=number)
    mid = tokens.mint_message_id(b"k" * 32, MID_DOMAIN, number, f"cause:{text}", recipient, day)
    minted = tokens.read_minted_id(mid, MID_DOMAIN)
    assert minted is not None and minted.number == number and minted.day == day
    assert tokens.verify_minted_id(b"k" * 32, minted, recipient.upper())


@fuzz_settings(300)
@given(text=quote_text() | st.text(max_size=400))
def test_reply_text_and_commands(text: str) -> None:
    """split_reply and parse_commands on reply-shaped text, and on any text."""
    check_reply_text(text)


# What the fuzzer has found so far, shrunk: these run every time, whatever the random draw.
FOUND_MESSAGES = [
    b"Date: Mon, 1 Jan 99999999999999999999 00:00:00 +0000\n\nx\n",  # OverflowError in parsedate_to_datetime
    b"Subject: =?undefined?q?x?=\n\nx\n",  # UnicodeError (not UnicodeDecodeError) from the 'undefined' codec
    b"Content-Type: text/plain; charset=undefined\n\nhello\n",
    b"Subject: =?idna?B?gA==?=\n\nx\n",  # the 'idna' codec refuses errors='replace'
    b"Subject: =?punycode?B?/w==?=\n\nx\n",
    b"Subject: =?a\x00?q?x?=\n\nx\n",  # ValueError from codecs.lookup: embedded null character
    b"Content-Type: multipart/mixed; boundary*=undefined''0\n\n",  # UnicodeError inside the stdlib parser
    b"Content-Type: message/rfc822\n\nTo: a@b.id\x0bFrom: c@d.id\n\nx\n",  # HeaderParseError from as_bytes
    b"Content-Type: message/rfc822\n\nContent-Type: multipart/mixed\n\n--\n\n\xe2\x80\x8b\n",  # UnicodeEncodeError
    b"Content-Type: text/plain; name*=unknown-8bit''\xc2%80\n\n",  # C1 control character in a filename
    b'Content-Type: application/pdf; name="=?utf-8?b?wpA=?="\n\nx\n',
    b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(1500)),  # recursion
]
FOUND_SUBJECTS = [
    "[LPSE#" + " " * 28 + "#26-0003]",  # clean_subject not idempotent: a bracket shrinks under 40 characters
    "[a" + " " * 40 + "b] x",
    "x [LPSE[LPSE #26-0001] #26-0002]",  # removing one token makes another
    "x " + "[LPSE" * 7 + " #26-0001]" * 7,
]


# Messages whose Subject carries our token, which must survive 8-bit junk around it.
FOUND_TOKEN_MESSAGES = [
    # charset detection took the header for UTF-16 (a BOM and NULs) and the token was garbled
    (b"Subject: \xff\xfe" + b"a\x00" * 20 + b" [LPSE #26-0001]\r\n\r\nx", "26-0001"),
    # parse's fallback re-reads the headers with the parser that just failed on them: every header
    # is lost (subject, sender, token), so a reply becomes a new ticket without a reporter
    (b"Subject:  [LPSE #00-0000]\r\nContent-Type: multipart/mixed; boundary*=undefined''0\r\n\r\n", "00-0000"),
    (b"From: Budi <budi@cv-maju.co.id>\r\nSubject: Re: [LPSE #26-0001] =?a\x00?q?x?=\r\n\r\nterima kasih\r\n", "26-0001"),
]


@pytest.mark.parametrize("raw", FOUND_MESSAGES, ids=range(len(FOUND_MESSAGES)))
def test_found_messages(raw: bytes) -> None:
    check_message(raw)


@pytest.mark.parametrize("raw, number", FOUND_TOKEN_MESSAGES, ids=range(len(FOUND_TOKEN_MESSAGES)))
def test_found_token_messages(raw: bytes, number: str) -> None:
    check_message(raw, expect_number=number)


@pytest.mark.parametrize("subject", FOUND_SUBJECTS, ids=range(len(FOUND_SUBJECTS)))
def test_found_subjects(subject: str) -> None:
    check_subject(subject)


def test_example_database_survives_a_read_only_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No writable directory: the saved examples are still read, new ones go to memory."""
    assert isinstance(example_database(tmp_path / "db"), DirectoryBasedExampleDatabase)
    assert (tmp_path / "db").is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    assert isinstance(example_database(blocker / "db"), InMemoryExampleDatabase)  # cannot even be created

    saved = DirectoryBasedExampleDatabase(tmp_path / "db")
    saved.save(b"key", b"saved example")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    db = example_database(tmp_path / "db")
    assert isinstance(db, MultiplexedDatabase)
    assert list(db.fetch(b"key")) == [b"saved example"]
    db.save(b"key", b"new example")  # lands in memory, not on the read-only disk
    assert sorted(db.fetch(b"key")) == [b"new example", b"saved example"]
    assert list(saved.fetch(b"key")) == [b"saved example"]


def test_corpus_seeds_themselves() -> None:
    """The unmutated seeds pass the same checks (a failure here is not the mutator's doing)."""
    for seed in corpus_seeds():
        check_message(seed)

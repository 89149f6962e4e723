"""Classification rules (pure core): matchers, semantics, validation and the shipped rule set."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maild.base.errors import ConfigError
from maild.mail.parse import ParsedMail, parse
from maild.base.resources import resource_dir
from maild.sop.rule_file import RuleSet, load_rules, parse_rules
from maild.sop.phrases import say_reason
from maild.sop.rule_match import BODY_LIMIT, Match, Reason, RuleContext, normalize
from maild.sop.rules import RuleHit, Verdict, classify, explain

WITA = ZoneInfo("Asia/Makassar")
IN_HOURS = RuleContext(datetime(2026, 11, 2, 9, 15, tzinfo=WITA), True)
AFTER_HOURS = RuleContext(datetime(2026, 11, 2, 19, 5, tzinfo=WITA), False)
SAMPLES = Path(__file__).resolve().parent / "rules_samples"
DEFAULT_RULES = resource_dir("templates") / "config" / "rules.toml"


def mail(
    subject: str = "Laporan",
    body: str = "Selamat pagi.",
    sender: str = "Budi <budi@cv-maju.co.id>",
    to: str = "helpdesk@lpse.example",
    cc: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> ParsedMail:
    """A small report, built as raw bytes and parsed the way the daemon parses mail."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return parse(msg.as_bytes())


def why(when: str, message: ParsedMail, context: RuleContext = IN_HOURS) -> str | None:
    """Run one rule with the given condition; return why it matched, or None."""
    rules = parse_rules(f'[[rule]]\nname = "t"\ncategory = "hit"\n{when}\n', "t.toml")
    verdict = classify(message, rules, context)
    return say_reason(verdict.hits[0].why, "en") if verdict.hits else None


PDF = ("SCAN_NIB.PDF", "application/pdf", b"%PDF-1.4 test")
PNG = ("tangkapan-layar.png", "image/png", b"\x89PNG\r\n")
LKPP = 'when.sender_domain = "lkpp.go.id"'
RECIPIENT = 'when.recipient = "verifikasi@lpse.*"'
SUBJECT_KW = 'when.subject.keywords = ["lupa password"]'
BODY_KW = 'when.body.keywords = ["akun terkunci"]'
NIB_RE = r"when.subject.regex = 'NIB\s*\d{13}'"
SPAM = 'when.header = { name = "X-Spam-Flag", equals = "YES" }'
LIST_ID = 'when.header = { name = "List-Id", present = true }'
TENDER_TODAY = 'when.all = [ { subject.keywords = ["tender"] }, { body.keywords = ["hari ini"] } ]'
NESTED = """when.any = [
    { all = [ { subject.keywords = ["tender"] }, { not = { working_hours = true } } ] },
    { header = { name = "X-Priority", equals = "1" } },
]"""

# (id, condition, message, context, expected: None = no match, else a substring of `why`)
MATCHERS = [
    ("sender exact, any case", 'when.sender = "budi@cv-maju.co.id"', mail(sender="B <Budi@CV-Maju.co.id>"), IN_HOURS,
     "sender 'budi@cv-maju.co.id' matches 'budi@cv-maju.co.id'"),
    ("sender glob", 'when.sender = "*@lkpp.go.id"', mail(sender="a@lkpp.go.id"), IN_HOURS, "matches '*@lkpp.go.id'"),
    ("sender glob is anchored", 'when.sender = "*@lkpp.go.id"', mail(sender="a@lkpp.go.id.evil.example"), IN_HOURS, None),
    ("sender list", 'when.sender = ["x@y.id", "budi@*"]', mail(), IN_HOURS, "matches 'budi@*'"),
    ("sender other", 'when.sender = "siti@cv-maju.co.id"', mail(), IN_HOURS, None),
    ("sender_domain exact", LKPP, mail(sender="a@lkpp.go.id"), IN_HOURS, "sender domain 'lkpp.go.id' matches 'lkpp.go.id'"),
    ("sender_domain subdomain", LKPP, mail(sender="a@mail.lkpp.go.id"), IN_HOURS, "'mail.lkpp.go.id' matches '*.lkpp.go.id'"),
    ("sender_domain not a suffix", LKPP, mail(sender="a@notlkpp.go.id"), IN_HOURS, None),
    ("recipient in To", RECIPIENT, mail(to="V <Verifikasi@lpse.example>"), IN_HOURS, "recipient 'verifikasi@lpse.example'"),
    ("recipient in Cc", RECIPIENT, mail(cc="verifikasi@lpse.example"), IN_HOURS, "recipient 'verifikasi@lpse.example'"),
    ("recipient absent", RECIPIENT, mail(), IN_HOURS, None),
    ("subject keyword, upper case", SUBJECT_KW, mail(subject="LUPA PASSWORD"), IN_HOURS,
     "subject contains keyword 'lupa password'"),
    ("subject keyword, spaces and punctuation", SUBJECT_KW, mail(subject="Tolong: Lupa  Password!"), IN_HOURS,
     "subject contains keyword 'lupa password'"),
    ("subject keyword is not looked for in the body", SUBJECT_KW, mail(body="lupa password"), IN_HOURS, None),
    ("body keyword across a hyphen", BODY_KW, mail(body="Akun-terkunci sejak pagi"), IN_HOURS,
     "body contains keyword 'akun terkunci'"),
    ("body keyword is not looked for in the subject", BODY_KW, mail(subject="akun terkunci"), IN_HOURS, None),
    ("phrase words must be adjacent", BODY_KW, mail(body="akun saya TERKUNCI"), IN_HOURS, None),
    ("text keyword in subject", 'when.text.keywords = ["verifikasi"]', mail(subject="Verifikasi"), IN_HOURS,
     "subject contains keyword 'verifikasi'"),
    ("text keyword in body", 'when.text.keywords = ["verifikasi"]', mail(body="mohon verifikasi"), IN_HOURS,
     "body contains keyword 'verifikasi'"),
    ("text phrase does not span subject and body", 'when.text.keywords = ["akun terkunci"]',
     mail(subject="akun", body="terkunci"), IN_HOURS, None),
    ("accent in the mail", 'when.text.keywords = ["Verifikasi"]', mail(subject="Vérifikasi akun"), IN_HOURS,
     "subject contains keyword 'Verifikasi'"),
    ("accent in the keyword", 'when.text.keywords = ["vérifikasi"]', mail(body="VERIFIKASI"), IN_HOURS,
     "body contains keyword 'vérifikasi'"),
    ("decomposed accent", 'when.text.keywords = ["verifikasi"]', mail(body="ve\u0301rifikasi"), IN_HOURS,
     "body contains keyword 'verifikasi'"),
    ("whole words: down is not download", 'when.text.keywords = ["down"]', mail(body="gagal download dokumen"),
     IN_HOURS, None),
    ("whole words: down", 'when.text.keywords = ["down"]', mail(body="Server DOWN."), IN_HOURS,
     "body contains keyword 'down'"),
    ("whole words: lambat is not terlambat", 'when.text.keywords = ["lambat"]', mail(body="pembayaran terlambat"),
     IN_HOURS, None),
    ("hyphenated keyword", 'when.text.keywords = ["e-katalog"]', mail(body="E Katalog lokal"), IN_HOURS,
     "body contains keyword 'e-katalog'"),
    ("regex on subject", NIB_RE, mail(subject="nib 9120001234567 belum terverifikasi"), IN_HOURS,
     "subject matches regex 'NIB\\\\s*\\\\d{13}' ('nib 9120001234567')"),
    ("regex no match", NIB_RE, mail(subject="NIB belum ada"), IN_HOURS, None),
    ("regex on body", 'when.body.regex = "kode tender \\\\d+"', mail(body="Kode Tender 10234567"), IN_HOURS,
     "body matches regex"),
    ("regex sees text as written", 'when.text.regex = "e-katalog"', mail(body="e katalog"), IN_HOURS, None),
    ("header equals, any case", SPAM, mail(headers=(("X-Spam-Flag", "yes"),)), IN_HOURS,
     "header X-Spam-Flag equals 'YES' ('yes')"),
    ("header equals is not contains", SPAM, mail(headers=(("X-Spam-Flag", "YESNO"),)), IN_HOURS, None),
    ("header missing", SPAM, mail(), IN_HOURS, None),
    ("header contains", 'when.header = { name = "x-mailer", contains = "outlook" }',
     mail(headers=(("X-Mailer", "Microsoft Outlook 16.0"),)), IN_HOURS, "header x-mailer contains 'outlook'"),
    ("header regex", 'when.header = { name = "X-Spam-Status", regex = "score=(9|1\\\\d)\\\\." }',
     mail(headers=(("X-Spam-Status", "Yes, score=9.1 required=5.0"),)), IN_HOURS, "header X-Spam-Status regex"),
    ("header present", LIST_ID, mail(headers=(("List-Id", "<pengumuman.lkpp.go.id>"),)), IN_HOURS, "List-Id present"),
    ("header present, absent", LIST_ID, mail(), IN_HOURS, None),
    ("header not present", 'when.header = { name = "List-Id", present = false }', mail(), IN_HOURS, "present=False"),
    ("attachment name", 'when.attachment_name = "*.pdf"', mail(attachments=(PDF,)), IN_HOURS,
     "attachment 'scan_nib.pdf' matches '*.pdf'"),
    ("attachment name, other", 'when.attachment_name = "*.pdf"', mail(attachments=(PNG,)), IN_HOURS, None),
    ("attachment type", 'when.attachment_type = "image/*"', mail(attachments=(PDF, PNG)), IN_HOURS,
     "attachment type 'image/png' matches 'image/*'"),
    ("attachment type, none", 'when.attachment_type = "image/*"', mail(), IN_HOURS, None),
    ("working hours", "when.working_hours = true", mail(), IN_HOURS,
     "received within working hours (Mon 2026-11-02 09:15 +0800)"),
    ("outside working hours", "when.working_hours = false", mail(), AFTER_HOURS, "received outside working hours"),
    ("working hours, but after hours", "when.working_hours = true", mail(), AFTER_HOURS, None),
    ("always", "when.always = true", mail(), IN_HOURS, "always"),
    ("two matchers in one table: both", 'when = { sender_domain = "lkpp.go.id", subject.keywords = ["tender"] }',
     mail(sender="a@lkpp.go.id", subject="Tender"), IN_HOURS, "matches 'lkpp.go.id' and subject contains"),
    ("two matchers in one table: one", 'when = { sender_domain = "lkpp.go.id", subject.keywords = ["tender"] }',
     mail(subject="Tender"), IN_HOURS, None),
    ("all", TENDER_TODAY, mail(subject="Tender", body="hari ini"), IN_HOURS,
     "subject contains keyword 'tender' and body contains keyword 'hari ini'"),
    ("all, one fails", TENDER_TODAY, mail(subject="Tender", body="besok"), IN_HOURS, None),
    ("any, second", 'when.any = [ { sender = "x@y.id" }, { body.keywords = ["besok"] } ]', mail(body="besok"),
     IN_HOURS, "body contains keyword 'besok'"),
    ("any, none", 'when.any = [ { sender = "x@y.id" }, { body.keywords = ["besok"] } ]', mail(), IN_HOURS, None),
    ("not", 'when.not = { sender_domain = "tanatidungkab.go.id" }', mail(), IN_HOURS,
     "not (sender domain matches 'tanatidungkab.go.id'"),
    ("not, inner matches", 'when.not = { sender_domain = "cv-maju.co.id" }', mail(), IN_HOURS, None),
    ("nested: all with not, after hours", NESTED, mail(subject="tender"), AFTER_HOURS,
     "subject contains keyword 'tender' and not (received within working hours)"),
    ("nested: all with not, in hours", NESTED, mail(subject="tender"), IN_HOURS, None),
    ("nested: the other branch", NESTED, mail(headers=(("X-Priority", "1"),)), IN_HOURS, "header X-Priority equals"),
]


@pytest.mark.parametrize(("when", "message", "context", "expected"), [m[1:] for m in MATCHERS],
                         ids=[m[0] for m in MATCHERS])
def test_matcher(when: str, message: ParsedMail, context: RuleContext, expected: str | None) -> None:
    got = why(when, message, context)
    if expected is None:
        assert got is None
    else:
        assert got is not None and expected in got


@pytest.mark.parametrize(("text", "expected"), [
    ("Vérifikasi", "verifikasi"),
    ("Lupa  Password!", "lupa password"),
    ("E-Katalog/Toko_Daring", "e katalog toko daring"),
    ("\ufb01le NIB\u00a0912", "file nib 912"),  # ligature and no-break space
    ("ÀKÚN   TËRKUNCI", "akun terkunci"),
    ("", ""),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --- semantics -----------------------------------------------------------------------------

def run(rules_text: str, message: ParsedMail | None = None) -> Verdict:
    return classify(message or mail(), parse_rules(rules_text, "t.toml"), IN_HOURS)


def test_first_matching_rule_wins_per_field() -> None:
    verdict = run("""
[[rule]]
name = "a"
when.always = true
category = "akun"
[[rule]]
name = "b"
when.always = true
category = "aplikasi_spse"
priority = "high"
type = "incident"
""")
    assert (verdict.category, verdict.priority, verdict.type) == ("akun", "high", "incident")
    assert verdict.hits == (RuleHit("a", Reason(Match.ALWAYS), ("category=akun",)),
                            RuleHit("b", Reason(Match.ALWAYS), ("type=incident", "priority=high")))
    assert verdict.stopped_by is None


def test_stop_ends_the_run() -> None:
    verdict = run("""
[[rule]]
name = "a"
when.always = true
priority = "low"
stop = true
[[rule]]
name = "b"
when.always = true
category = "lainnya"
""")
    assert verdict.priority == "low" and verdict.category is None
    assert [h.rule for h in verdict.hits] == ["a"] and verdict.stopped_by == "a"


def test_a_rule_that_does_not_match_sets_nothing() -> None:
    verdict = run('[[rule]]\nname = "a"\nwhen.sender = "x@y.id"\ncategory = "akun"\nstop = true\n'
                  '[[rule]]\nname = "b"\nwhen.always = true\npriority = "low"\n')
    assert verdict.category is None and verdict.priority == "low" and [h.rule for h in verdict.hits] == ["b"]


ROUTING = """
[[rule]]
name = "akun"
when.always = true
category = "akun"
[[rule]]
name = "verifikasi"
when.always = true
type = "service_request"
category = "registrasi_verifikasi"
group = "verifikasi"
assignee = "siti@lpse.example"
ack_template = "ack_verifikasi"
escalate = true
priority = "high"
"""


def test_routing_follows_the_category() -> None:
    verdict = run(ROUTING)
    assert verdict.category == "akun"
    assert (verdict.group, verdict.assignee, verdict.ack_template, verdict.escalate) == (None, None, None, False)
    assert (verdict.type, verdict.priority) == ("service_request", "high")
    assert verdict.hits[1].applied == ("type=service_request", "priority=high")


def test_routing_applies_when_the_category_is_the_same() -> None:
    verdict = run(ROUTING.replace('category = "akun"', 'category = "registrasi_verifikasi"'))
    assert (verdict.group, verdict.assignee, verdict.ack_template, verdict.escalate) == (
        "verifikasi", "siti@lpse.example", "ack_verifikasi", True)


def test_escalate_only_to_its_own_group() -> None:
    rules = """
[[rule]]
name = "a"
when.always = true
group = "helpdesk"
[[rule]]
name = "b"
when.always = true
group = "infrastruktur"
escalate = true
"""
    assert (run(rules).group, run(rules).escalate) == ("helpdesk", False)
    alone = run(rules.replace('group = "helpdesk"', 'priority = "low"'))
    assert (alone.group, alone.escalate) == ("infrastruktur", True)


def test_every_action_and_the_indonesian_aliases() -> None:
    verdict = run("""
[[rule]]
name = "semua"
when.always = true
type = "permintaan_layanan"
category = "akun"
priority = "Tinggi"
assignee = "Staf@LPSE.example"
group = "verifikasi"
escalate = true
ack_template = "ack_akun"
acknowledge = false
quarantine = true
""")
    assert verdict == Verdict(type="service_request", category="akun", priority="high", assignee="staf@lpse.example",
                              group="verifikasi", escalate=True, ack_template="ack_akun", acknowledge=False,
                              quarantine=True, hits=verdict.hits)
    assert run('[[rule]]\nname = "a"\nwhen.always = true\ntype = "gangguan"\npriority = "kritis"\n').priority == "critical"


def test_no_rule_matched_leaves_every_field_unset() -> None:
    verdict = run('[[rule]]\nname = "a"\nwhen.sender = "x@y.id"\ncategory = "akun"\n')
    assert verdict == Verdict()
    assert (verdict.type, verdict.category, verdict.acknowledge, verdict.quarantine) == (None, None, True, False)
    assert classify(mail(), RuleSet(()), IN_HOURS) == Verdict()


def test_only_the_start_of_a_huge_body_is_looked_at() -> None:
    rules = 'when.body.keywords = ["server down"]'
    assert why(rules, mail(body="server down " + "x " * 100)) is not None
    assert why(rules, mail(body="kata " * (BODY_LIMIT // 5) + "server down")) is None


def test_context_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RuleContext(datetime(2026, 11, 2, 9, 0), True)


# --- validation ----------------------------------------------------------------------------

RULE = '[[rule]]\nname = "akun-terkunci"\nwhen.text.keywords = ["akun terkunci"]\n'
OK = 'category = "akun"\n'

# (id, rules text, the rule named in the message, the reason expected in it)
BAD = [
    ("bad priority", RULE + 'priority = "urgentt"', "rule 'akun-terkunci'",
     "priority 'urgentt' is not one of low, medium, high, critical (or rendah, sedang, tinggi, kritis)"),
    ("bad type", RULE + 'type = "insiden"', "rule 'akun-terkunci'",
     "type 'insiden' is not one of incident, problem, service_request"),
    ("unknown key", RULE + 'priorty = "high"', "rule 'akun-terkunci'",
     "unknown key 'priorty' (did you mean 'priority'?)"),
    ("unknown matcher", '[[rule]]\nname = "a"\nwhen.subjek.keywords = ["x"]\n' + OK, "rule 'a'",
     "when: unknown matcher 'subjek' (did you mean 'subject'?)"),
    ("unknown key in a matcher", '[[rule]]\nname = "a"\nwhen.subject.keyword = ["x"]\n' + OK, "rule 'a'",
     "when.subject: unknown key 'keyword' (did you mean 'keywords'?)"),
    ("unknown matcher, nested", '[[rule]]\nname = "a"\nwhen.any = [ { sender = "x@y.id" }, { not = { sendr = "z" } } ]\n'
     + OK, "rule 'a'", "when.any #2.not: unknown matcher 'sendr' (did you mean 'sender'?)"),
    ("bad regex", '[[rule]]\nname = "a"\nwhen.subject.regex = "(NIB"\n' + OK, "rule 'a'",
     "when.subject.regex: bad regex '(NIB': missing ), unterminated subpattern at position 0"),
    ("bad header regex", '[[rule]]\nname = "a"\nwhen.header = { name = "X", regex = "[" }\n' + OK, "rule 'a'",
     "when.header.regex: bad regex '['"),
    ("duplicate name", RULE + OK + RULE + OK, "rule 'akun-terkunci'", "duplicate name (rule #1 has it too)"),
    ("escalate without group", RULE + OK + "escalate = true\n", "rule 'akun-terkunci'",
     'escalate = true needs group = "..."'),
    ("empty condition", '[[rule]]\nname = "a"\nwhen = {}\n' + OK, "rule 'a'", "when: empty condition"),
    ("no condition", '[[rule]]\nname = "a"\n' + OK, "rule 'a'", "has no condition"),
    ("empty all", '[[rule]]\nname = "a"\nwhen.all = []\n' + OK, "rule 'a'", "when.all: expected a non-empty list"),
    ("no name", RULE + OK + '[[rule]]\nwhen.always = true\n' + OK, "rule #2", "needs name"),
    ("empty keyword list", '[[rule]]\nname = "a"\nwhen.text.keywords = []\n' + OK, "rule 'a'",
     "when.text.keywords: expected a string or a non-empty list of strings, got []"),
    ("keyword without letters", '[[rule]]\nname = "a"\nwhen.text.keywords = ["!!!"]\n' + OK, "rule 'a'",
     "'!!!' has no letters or digits"),
    ("keywords and regex", '[[rule]]\nname = "a"\nwhen.text = { keywords = ["x"], regex = "x" }\n' + OK, "rule 'a'",
     "when.text: needs exactly one of keywords or regex"),
    ("matcher outside when", '[[rule]]\nname = "a"\nsubject.keywords = ["x"]\n' + OK, "rule 'a'",
     "matcher 'subject' belongs under when"),
    ("bad category", RULE + 'category = "Akun SPSE"', "rule 'akun-terkunci'", "category 'Akun SPSE' must be a short id"),
    ("bad assignee", RULE + 'assignee = "budi"', "rule 'akun-terkunci'", "assignee 'budi' is not an email address"),
    ("bad template name", RULE + 'ack_template = "../../etc/passwd"', "rule 'akun-terkunci'",
     "ack_template '../../etc/passwd' must be a template name"),
    ("header with two tests", '[[rule]]\nname = "a"\nwhen.header = { name = "X", equals = "1", contains = "2" }\n' + OK,
     "rule 'a'", "when.header: needs exactly one of equals, contains, regex, present"),
    ("header without name", '[[rule]]\nname = "a"\nwhen.header = { equals = "1" }\n' + OK, "rule 'a'",
     'when.header: needs name = "Header-Name"'),
    ("working_hours not a boolean", '[[rule]]\nname = "a"\nwhen.working_hours = "ya"\n' + OK, "rule 'a'",
     "when.working_hours: expected true or false, got 'ya'"),
    ("always false", '[[rule]]\nname = "a"\nwhen.always = false\n' + OK, "rule 'a'", "when.always: must be true"),
    ("domain that is an address", '[[rule]]\nname = "a"\nwhen.sender_domain = "x@lkpp.go.id"\n' + OK, "rule 'a'",
     "is an address, not a domain"),
    ("stop not a boolean", RULE + OK + 'stop = "yes"', "rule 'akun-terkunci'", "stop: expected true or false"),
    ("rule does nothing", RULE, "rule 'akun-terkunci'", "does nothing"),
    ("a table, not an array", '[rule]\nname = "a"\nwhen.always = true\n' + OK, "rules.toml", "write each rule as [[rule]]"),
    ("unknown top-level key", '[[rules]]\nname = "a"\n', "rules.toml", "unknown top-level key 'rules' (did you mean 'rule'?)"),
    ("not TOML", '[[rule]]\nname = "a\n', "rules.toml", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "rule", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_validation_error_is_one_line_naming_file_rule_and_reason(text: str, rule: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(text, "rules.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("rules.toml: ")
    assert rule in message and reason in message


def test_validation_error_exact_wording() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(RULE + 'priority = "urgentt"\n', "rules.toml")
    assert str(info.value) == ("rules.toml: rule 'akun-terkunci': priority 'urgentt' is not one of "
                               "low, medium, high, critical (or rendah, sedang, tinggi, kritis)")


def test_load_rules_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^.*missing\.toml: rules file not found$"):
        load_rules(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[rule]]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: not UTF-8 text"):
        load_rules(latin)
    good = tmp_path / "rules.toml"
    good.write_text(RULE + OK, encoding="utf-8")
    assert [r.name for r in load_rules(good).rules] == ["akun-terkunci"]
    assert load_rules(good).source == str(good)


# --- the shipped rule set ------------------------------------------------------------------

@pytest.fixture(scope="module")
def default_rules() -> RuleSet:
    return load_rules(DEFAULT_RULES)


def test_default_rules_load_in_order(default_rules: RuleSet) -> None:
    names = [r.name for r in default_rules.rules]
    assert names[0] == "spam" and default_rules.rules[0].stop
    assert names[-1] == "lainnya"
    assert all(r.description for r in default_rules.rules)


# sample file -> (type, category, priority, group, quarantine, acknowledge, stopped_by)
SAMPLE_VERDICTS = {
    "lupa-password.eml": ("service_request", "akun", "medium", None, False, True, None),
    "locked-out-english.eml": ("service_request", "akun", "medium", None, False, True, None),
    "verifikasi-penyedia.eml": ("service_request", "registrasi_verifikasi", "medium", "verifikasi", False, True, None),
    "upload-penawaran-batas-waktu.eml": ("incident", "aplikasi_spse", "high", None, False, True, None),
    "situs-tidak-bisa-diakses.eml": ("incident", "jaringan_server", "high", "infrastruktur", False, True, None),
    "sertifikat-passphrase.eml": ("service_request", "sertifikat_elektronik", "medium", None, False, True, None),
    "katalog-produk.eml": ("incident", "e_katalog", "medium", None, False, True, None),
    "apendo-berulang.eml": ("problem", "aplikasi_spse", "medium", None, False, True, None),
    "spam.eml": (None, None, None, None, True, False, "spam"),
    "pertanyaan-umum.eml": (None, "lainnya", "medium", None, False, True, None),
}


@pytest.mark.parametrize(("name", "expected"), SAMPLE_VERDICTS.items(), ids=list(SAMPLE_VERDICTS))
def test_default_rules_on_sample_reports(default_rules: RuleSet, name: str, expected: tuple[object, ...]) -> None:
    verdict = classify(parse((SAMPLES / name).read_bytes()), default_rules, IN_HOURS)
    got = (verdict.type, verdict.category, verdict.priority, verdict.group, verdict.quarantine, verdict.acknowledge,
           verdict.stopped_by)
    assert got == expected, explain(verdict)


def test_every_sample_has_an_expected_verdict() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.eml")) == sorted(SAMPLE_VERDICTS)


# --- explain -------------------------------------------------------------------------------

def test_explain_lists_fields_then_rules_and_why() -> None:
    verdict = run("""
[[rule]]
name = "tender-mendesak"
when.all = [ { subject.keywords = ["tender"] }, { body.keywords = ["hari ini"] } ]
priority = "tinggi"
[[rule]]
name = "aplikasi-spse"
when.subject.keywords = ["tender"]
type = "incident"
category = "aplikasi_spse"
priority = "medium"
[[rule]]
name = "lagi"
when.subject.keywords = ["tender"]
priority = "low"
stop = true
[[rule]]
name = "lainnya"
when.always = true
category = "lainnya"
""", mail(subject="Tender jalan desa", body="Batas waktu hari ini."))
    assert explain(verdict) == """\
type:         incident
category:     aplikasi_spse
priority:     high
assignee:     -
group:        -
escalate:     false
ack_template: -
acknowledge:  true
quarantine:   false
rules matched, in order:
  1. tender-mendesak: subject contains keyword 'tender' and body contains keyword 'hari ini'
     set: priority=high
  2. aplikasi-spse: subject contains keyword 'tender'
     set: type=incident, category=aplikasi_spse
  3. lagi: subject contains keyword 'tender'
     set: nothing (earlier rules decided first)
stopped at rule 'lagi' (stop = true): later rules were not looked at"""


def test_explain_when_no_rule_matched() -> None:
    text = explain(Verdict())
    assert text.splitlines()[0] == "type:         -"
    assert text.splitlines()[-1] == "no rule matched"
    assert "rules matched" not in text

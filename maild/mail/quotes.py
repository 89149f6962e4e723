"""The part of a reply that matters: new text, with quoted history and signatures trimmed. Pure.

``split_reply(text)`` takes the plain text of one message (maild has already turned HTML into
text with html2text, so Gmail's ``<blockquote>`` arrives as ``> `` lines, Outlook's bold header
labels as ``**From:**``, an ``<hr>`` as ``* * *``, a ``-- `` line as ``\\--`` and links as
``[text](url)``) and returns a ``Reply``: the new text, the quote that was cut, the signature
that was cut, and the names of the rules that cut them.

How it works, top to bottom over the lines, in one pass:

1. A line starting with ``>`` is quoted: dropped, wherever it is. So an inline or bottom-posted
   answer keeps every new line written between the quotes.
2. An attribution ("On ... wrote:", "Pada ... menulis:", "Le ... a écrit :", or any line that
   ends in ``<address>:`` after a date and a time), possibly wrapped over up to four lines, is
   dropped. If ``>`` lines follow it, the scan goes on (the reply may be interleaved);
   otherwise the rest of the message is the quote (Gmail and Apple Mail without ``>``).
3. An Outlook-style boundary cuts the rest of the message: "-----Original Message-----",
   "-----Pesan Asli-----" and their translations, a line of 20+ underscores, or a header block
   (From/Sent/To/Subject, Dari/Dikirim/Kepada/Subjek and other languages).
4. A forward marker ("---------- Forwarded message ---------", "Begin forwarded message:", ...)
   met before anything was cut keeps the whole message: what was forwarded is the point.
5. On what is left, a trailing mobile footer ("Sent from my iPhone", "Dikirim dari iPhone saya",
   "Get Outlook for iOS", ...) and a ``-- `` signature are moved to ``signature``.

Conservative on purpose: if nothing new would be left, the original text is kept (a reply that
is only a quote is rare; a lost answer is worse), and a signature is not cut if it is all there
is. Salutations and sign-offs ("Terima kasih,\\nBudi") are kept: they are part of what the person
wrote, and the expected results of talon and Crisp keep them too.

Speed: every per-line test is guarded by a cheap check (first character, last character, a
colon in the first 40 characters) and runs only on a bounded slice of the line, and no pattern
has nested unbounded repetition, so time is linear in the input (see tests/test_quotes.py for
the figures). A top-posted reply stops scanning at the first boundary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Reply", "split_reply"]

# Reads line j as "Label: value": (kind or None, value), or None if it is not one.
_LabelOf = Callable[[int], "tuple[str | None, str] | None"]

# Names of the rules, as they appear (joined with "+") in ``Reply.how``.
NONE = "none"
QUOTE_MARKS = "quote-marks"
ATTRIBUTION = "attribution"
ORIGINAL_MESSAGE = "original-message"
SEPARATOR_LINE = "separator-line"
HEADER_BLOCK = "header-block"
SIG_DASHES = "sig-dashes"
MOBILE_FOOTER = "mobile-footer"
FORWARD_KEPT = "forward-kept"
ALL_QUOTED_KEPT = "all-quoted-kept"
EMPTY = "empty"


@dataclass(frozen=True)
class Reply:
    """One message split into what the author wrote now and what was trimmed.

    ``text`` is the new text (never empty when the input had any text); ``quoted`` is the
    quoted history that was cut and ``signature`` the signature or mobile footer that was cut
    (each ``""`` if nothing was); ``how`` names the rules that cut, joined with ``+``, or
    ``none``, ``forward-kept``, ``all-quoted-kept`` (everything looked quoted, so nothing was
    cut) or ``empty`` (blank input).
    """

    text: str
    quoted: str
    signature: str
    how: str


# Characters that html2text and mail clients leave around otherwise blank lines.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

# An attribution is at most this long once its wrapped lines are joined; longer is prose.
_MAX_ATTRIBUTION = 400
# At most this many physical lines make one wrapped attribution (Gmail wraps at 80 columns,
# so "On <date> <name> <\naddress> wrote:" can take three, Apple Mail's long names four).
_ATTRIBUTION_LINES = 4
# A "-- " signature longer than this many lines is more likely text the author separated.
_MAX_SIGNATURE_LINES = 20

# --- attributions ------------------------------------------------------------------------
# Words that open an attribution in the languages a helpdesk sees: id, en, fr, de, it, es, pt,
# nl, da/no/sv, pl, cs, ru. Anchored at the start of the joined attribution.
_OPENER = re.compile(
    r"(?:on|pada|le|am|il|el|em|op|den|dne|dnia|w\s+dniu|в)\b",
    re.IGNORECASE,
)
# The verb that closes it ("wrote", "menulis", ...), at the very end of the last line, colon
# optional ("---- On ... wrote ----" from Zoho has none). Compared with str.endswith on the
# line's tail, which is several times faster than a regex search over 20 alternatives.
_CLOSING_VERBS = (
    "wrote",
    "menulis",
    "a écrit",
    "ha scritto",
    "escreveu",
    "escribió",
    "schreef",
    "schrieb",
    "skrev",
    "kirjoitti",
    "napisał(a)",
    "napisał",
    "napisała",
    "napsal(a)",
    "napsal",
    "napsala",
    "написал(а)",
    "написал",
    "написала",
    "пишет",
    "yazdı",
    "írta",
)
# Language-free attribution: '... <date> <time> ... <name@example.com>:' (Russian, Dutch,
# Yandex, mail.ru, the numeric-date forms of Gmail). The address must close the line.
_ENDS_WITH_ADDRESS = re.compile(r"@[\w-]+(?:\.[\w-]+)+[^\w@\s]{0,8}\s*:$")
_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_YEAR_OR_DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")
_DIGIT_OR_AT = re.compile(r"[\d@]")

# --- boundaries ----------------------------------------------------------------------------
# "-----Original Message-----" and its translations, compared after stripping the dashes.
_ORIGINAL_PHRASES = frozenset(
    {
        "original message",
        "pesan asli",
        "pesan awal",
        "pesan sebelumnya",
        "message d'origine",
        "message d’origine",
        "message original",
        "ursprüngliche nachricht",
        "ursprüngliche e-mail",
        "mensaje original",
        "messaggio originale",
        "oorspronkelijk bericht",
        "origineel bericht",
        "wiadomość oryginalna",
        "oryginalna wiadomość",
        "исходное сообщение",
        "original meddelelse",
        "originalmeddelelse",
        "oprindelig meddelelse",
        "opprinnelig melding",
        "ursprungligt meddelande",
        "originalmeddelande",
        "alkuperäinen viesti",
        "původní zpráva",
        "eredeti üzenet",
        "orijinal mesaj",
        "mensagem original",
        "reply message",
    }
)
# Forward markers: what follows them is what the sender wants us to read.
_FORWARD_PHRASES = frozenset(
    {
        "forwarded message",
        "forwarded message follows",
        "pesan yang diteruskan",
        "pesan terusan",
        "pesan diteruskan",
        "message transféré",
        "weitergeleitete nachricht",
        "mensaje reenviado",
        "messaggio inoltrato",
        "doorgestuurd bericht",
        "пересылаемое сообщение",
        "videresendt meddelelse",
        "vidarebefordrat meddelande",
        "mensagem encaminhada",
    }
)
_FORWARD_LINE = re.compile(
    r"(?:begin\s+forwarded\s+message|awal\s+pesan\s+yang\s+diteruskan|pesan\s+yang\s+diteruskan"
    r"|début\s+du\s+message\s+réexpédié|anfang\s+der\s+weitergeleiteten\s+nachricht"
    r"|inicio\s+del\s+mensaje\s+reenviado|inizio\s+messaggio\s+inoltrato)\s*:?$",
    re.IGNORECASE,
)
_DASHES = " \t-_=*~—–"
_UNDERSCORES = re.compile(r"_{20,}")
# A line that only decorates (hr "* * *", "=====", "-----"): absorbed into a quote boundary.
_DECORATION = re.compile(r"[\s*_=~#—–-]{3,}")

# --- header blocks -------------------------------------------------------------------------
# "From: x", "**Dari:** x", "De : x". The label is 1-4 words; bounded, so no backtracking blowup.
_HEADER_LINE = re.compile(
    r"[ \t]*(?:\*\*|__)?[ \t]*([^\W\d_][\w'’.-]{0,20}(?: [\w'’.-]{1,20}){0,3}?)"
    r"[ \t]*(?:\*\*|__)?[ \t]*:(?!//)(?:\*\*|__)?(.*)"
)
_FROM, _SENT, _DATE, _TO, _CC, _SUBJECT = "from", "sent", "date", "to", "cc", "subject"
_HEADER_KINDS: dict[str, str] = {}
for _kind, _labels in (
    (
        _FROM,
        "from|dari|pengirim|van|von|de|da|od|от|fra|från|frá|lähettäjä|feladó|kimden|από"
        "|expéditeur|remitente|mittente|afzender|发件人|寄件者|差出人|보낸 사람|từ",
    ),
    (
        _SENT,
        "sent|dikirim|terkirim|verzonden|gesendet|envoyé|enviado|inviato|wysłano|wysłane"
        "|отправлено|skickat|sendt|lähetetty|gönderildi|odesláno|elküldve|发送时间|送信日時"
        "|보낸 날짜",
    ),
    (
        _DATE,
        "date|tanggal|tgl|waktu|datum|fecha|data|дата|päivämäärä|tarih|日期|日付|날짜",
    ),
    (
        _TO,
        "to|kepada|untuk|aan|an|à|a|para|per|do|кому|till|til|vastaanottaja|címzett|kime"
        "|收件人|宛先|받는 사람|đến",
    ),
    (_CC, "cc|tembusan|kopie|copie à|cc.|копия|kopia|kopio|másolat|抄送|副本|참조"),
    ("bcc", "bcc|bcc."),
    (
        _SUBJECT,
        "subject|subjek|perihal|hal|onderwerp|betreff|objet|asunto|oggetto|assunto|temat"
        "|тема|ämne|emne|aihe|tárgy|konu|předmět|主题|主旨|件名|제목|sujet|re",
    ),
):
    for _label in _labels.split("|"):
        _HEADER_KINDS[_label] = _kind
# Header blocks hold at most this many lines (with Cc, Bcc, Importance, a wrapped address).
_MAX_HEADER_LINES = 10

# --- signatures ----------------------------------------------------------------------------
_SIG_DASHES = frozenset({"--", "\\--"})  # "-- " after strip; html2text escapes it as "\--"
# A short line of underscores also opens a signature or a mailing-list footer ("__"); 20 or
# more is Outlook's quote separator, handled as a boundary.
_SHORT_UNDERSCORES = re.compile(r"_{2,19}")
_MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]{0,200})\]\((?:<[^<>\n]{0,2000}>|[^()\s]{0,2000})\)")
_ANGLE_URL = re.compile(r"<(?:https?|mailto):[^<>\s]{0,2000}>")
_FOOTER = re.compile(
    r"(?:sent|dikirim|terkirim|envoyé|gesendet|enviado|inviato|verzonden|verstuurd|wysłane"
    r"|отправлено)\s+(?:from|with|via|using|on|dari|melalui|lewat|dengan|de|à\s+partir\s+de"
    r"|von|desde|da|vanaf|met|van|z|из|с)\s+([\w'’&+-]+(?:\s+[\w'’&+-]+){0,6})\s*[.!]?",
    re.IGNORECASE,
)
_GET_APP = re.compile(
    r"(?:get|dapatkan|download|unduh|scarica|obtenez|holen\s+sie\s+sich)\s+outlook\s+"
    r"(?:for|untuk|per|pour|für)\s+(?:ios|android|windows)\s*[.!]?",
    re.IGNORECASE,
)
_DEVICE_WORDS = frozenset(
    "iphone ipad ipod android ios mobile samsung galaxy blackberry outlook yahoo gmail mail"
    " email e-mail surel ponsel hp handphone smartphone phone huawei xiaomi redmi oppo vivo"
    " realme nokia windows tablet aquamail bluemail spark telkomsel mi lg sony pixel"
    " motorola asus".split()
)


def split_reply(text: str) -> Reply:
    """Split one message's plain text into the new text, the quoted history and the signature.

    Never raises and never returns an empty ``text`` for a non-blank input: when every line
    would be cut, the original is kept with ``how == "all-quoted-kept"``.
    """
    if not text or not text.strip():
        return Reply(text="", quoted="", signature="", how=EMPTY)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    clean = [_clean(line) for line in lines]
    if not any(clean):  # only whitespace and zero-width characters
        return Reply(text="", quoted="", signature="", how=EMPTY)
    scan = _Scan(clean)
    scan.run()
    if not any(clean[i] for i in scan.keep):
        # Everything looked like history: keep it all rather than lose an answer.
        everything = range(len(lines))
        return Reply(text=_join(lines, clean, everything), quoted="", signature="",
                     how=ALL_QUOTED_KEPT)

    kept = scan.keep
    rules = scan.rules
    signature = ""
    sig_start, sig_rule = _signature_start(clean, kept)
    if sig_start is not None and any(clean[i] for i in kept[:sig_start]):
        # Cut only if something remains: a message that is all signature keeps it as text.
        signature = _join(lines, clean, kept[sig_start:])
        rules.append(sig_rule)
        kept = kept[:sig_start]
    return Reply(
        text=_join(lines, clean, kept),
        quoted=_join(lines, clean, sorted(set(scan.cut))),
        signature=signature,
        how="+".join(dict.fromkeys(rules)) or NONE,
    )


class _Scan:
    """One top-to-bottom pass over the cleaned lines: which are kept, which are cut, and why."""

    def __init__(self, clean: list[str]) -> None:
        self.clean = clean
        self.keep: list[int] = []
        self.cut: list[int] = []
        self.rules: list[str] = []
        self._labels: dict[int, tuple[str | None, str] | None] = {}

    def run(self) -> None:
        clean = self.clean
        n = len(clean)
        i = 0
        while i < n:
            s = clean[i]
            if not s:
                self.keep.append(i)
                i += 1
                continue
            # Each test below runs only past a cheap check on the first or last character, so
            # an ordinary line costs a few comparisons.
            first, last = s[0], s[-1]
            if first == ">" or (first.islower() and _is_wrapped_quote(clean, i, s)):
                # Quoted, or a long quoted line the sender's client re-wrapped without its ">".
                self._cut_line(i, QUOTE_MARKS)
                i += 1
                continue
            if len(s) >= 8 and (last == ":" or first in _DASHES) and _is_forward(s):
                if not self.cut:
                    # Nothing quoted above it: the forward is what the sender wants us to read.
                    self.keep.extend(range(i, n))
                    self.rules.append(FORWARD_KEPT)
                    return
                self._cut_rest(i, ORIGINAL_MESSAGE)  # a forward inside quoted history
                return
            if (first in _DASHES and len(s) >= 8) or ":" in s[:40]:
                rule = _boundary(clean, i, s, self.label)
                if rule is not None:
                    self._cut_rest(i, rule)
                    return
            start = None
            if last == ":" or last in _DASHES or last in "eE":  # ":", "wrote", "wrote ----"
                start = _attribution_start(clean, i, s)
            if start is None:
                self.keep.append(i)
            elif _next_nonblank(clean, i + 1)[:1] == ">":
                # A quote follows: drop the attribution, go on looking for interleaved text.
                self._drop_kept_from(start)
                for k in range(start, i + 1):
                    self._cut_line(k, ATTRIBUTION)
            else:
                # Gmail or Apple Mail history without ">" marks: the rest is the quote.
                self._cut_rest(start, ATTRIBUTION)
                return
            i += 1

    def label(self, j: int) -> tuple[str | None, str] | None:
        """``_header_label`` of line ``j``, parsed once (header blocks are re-read per line)."""
        if j not in self._labels:
            self._labels[j] = _header_label(self.clean[j])
        return self._labels[j]

    def _cut_line(self, i: int, rule: str) -> None:
        self.cut.append(i)
        if not self.rules or self.rules[-1] != rule:
            self.rules.append(rule)

    def _cut_rest(self, start: int, rule: str) -> None:
        """Cut from ``start`` to the end, with the blank and decoration lines just above."""
        clean = self.clean
        self._drop_kept_from(start)
        while self.keep and self.keep[-1] == start - 1:
            above = clean[start - 1]
            # "* * *" is html2text's <hr> above Outlook's header block; "-- " is a signature.
            if above and (above in _SIG_DASHES or not _DECORATION.fullmatch(above)):
                break
            self.keep.pop()
            start -= 1
        self.cut = sorted(set(self.cut).union(range(start, len(clean))))
        self.rules.append(rule)

    def _drop_kept_from(self, start: int) -> None:
        while self.keep and self.keep[-1] >= start:
            self.keep.pop()


def _clean(line: str) -> str:
    """The line without surrounding whitespace or invisible characters."""
    s = line.strip()
    if s and (s[0] in _INVISIBLE or s[-1] in _INVISIBLE):
        s = s.strip(_INVISIBLE).strip()
    return s


def _next_nonblank(clean: list[str], i: int) -> str:
    """The next non-blank cleaned line from ``i`` on, or ``""``."""
    n = len(clean)
    while i < n:
        if clean[i]:
            return clean[i]
        i += 1
    return ""


def _is_forward(s: str) -> bool:
    if len(s) > 80:
        return False
    if s[0] in _DASHES:
        return s.strip(_DASHES).lower() in _FORWARD_PHRASES
    return _FORWARD_LINE.match(s) is not None


def _boundary(clean: list[str], i: int, s: str, label: _LabelOf) -> str | None:
    """The rule name if an Outlook-style boundary starts at line ``i``, else None."""
    first = s[0]
    if first in _DASHES and len(s) <= 80:
        core = s.strip(_DASHES).lower()
        if core in _ORIGINAL_PHRASES and s[:2] in ("--", "__", "==", "**", "- "):
            return ORIGINAL_MESSAGE
        if first == "_" and _UNDERSCORES.fullmatch(s):
            return SEPARATOR_LINE
    if ":" in s[:40] and _is_header_block(clean, i, label):
        return HEADER_BLOCK
    return None


def _header_label(s: str) -> tuple[str | None, str] | None:
    """``(kind or None, value)`` if the line looks like ``Label: value``, else None."""
    if ":" not in s[:40]:
        return None
    m = _HEADER_LINE.match(s)
    if m is None:
        return None
    label = " ".join(m.group(1).lower().split())
    return _HEADER_KINDS.get(label) or _HEADER_KINDS.get(label.rstrip(".")), m.group(2)


def _is_header_block(clean: list[str], i: int, label: _LabelOf) -> bool:
    """Whether a quoted message's header block (From/Sent/To/Subject) starts at line ``i``.

    Needs a From-like label, two more known labels, and either an address in the From value
    or a Sent-like label: an Indonesian memo ("Dari: / Kepada: / Tanggal: / Perihal:") has
    neither, an Outlook or Gmail header block always has one.
    """
    kinds: set[str] = set()
    from_value = ""
    in_from = False
    unknown = 0
    continuations = 0
    blanks = 0
    n = len(clean)
    j = i
    while j < n and j < i + _MAX_HEADER_LINES + blanks:
        s = clean[j]
        if not s:
            # Outlook puts each header in its own <p>, so html2text leaves a blank line
            # between them: step over one if a known label follows.
            nxt = label(j + 1) if kinds and j + 1 < n and clean[j + 1] else None
            if nxt is None or nxt[0] is None or blanks >= _MAX_HEADER_LINES:
                break
            blanks += 1
            in_from = False
            j += 1
            continue
        parsed = label(j)
        if parsed is None:
            # A wrapped value (Outlook splits a long "From: name <address>").
            if j == i or continuations >= 2:
                break
            continuations += 1
            if in_from:
                from_value += " " + s
                if _FROM in kinds and len(kinds) >= 3 and "@" in from_value:
                    return True
            j += 1
            continue
        kind, value = parsed
        in_from = False
        if kind is None:
            # An unknown label may open the block only right above "From:" (the French
            # "Message du : <date>" line); otherwise "Content-Type:" or "Nama:" would.
            if j == i:
                nxt = label(j + 1) if j + 1 < n else None
                if nxt is None or nxt[0] != _FROM:
                    return False
            unknown += 1
            if unknown > 2:
                break
        else:
            if kind in kinds:
                break  # a label seen twice: the next block (or prose) begins
            kinds.add(kind)
            if kind == _FROM:
                in_from = True
                from_value = value
        if _FROM in kinds and len(kinds) >= 3 and (_SENT in kinds or "@" in from_value):
            return True
        j += 1
    return False


def _attribution_start(clean: list[str], i: int, s: str) -> int | None:
    """If line ``i`` ends an attribution, the index of its first line, else None.

    The closing verb or address is always on the last line (Gmail wraps before "wrote:",
    not inside it), so it is tested once; the up to three lines above are then joined one
    by one to find where the attribution starts.
    """
    tail = s.rstrip(_DASHES)[-40:]
    if not tail or (tail[-1] != ":" and tail[-5:].lower() != "wrote"):
        return None
    closer = _ends_with_verb(tail)
    generic = tail[-1] == ":" and (
        closer or ("@" in tail and _ENDS_WITH_ADDRESS.search(tail) is not None)
    )
    if not (closer or generic):
        return None
    has_time = has_date = False
    parts: list[str] = []
    size = 0
    fallback: int | None = None
    for k in range(i, max(-1, i - _ATTRIBUTION_LINES), -1):
        piece = clean[k]
        if not piece or (k != i and piece[0] == ">"):
            break
        size += len(piece) + 1
        if size > _MAX_ATTRIBUTION:
            break
        parts.append(piece)
        has_time = has_time or _TIME.search(piece) is not None
        has_date = has_date or _YEAR_OR_DATE.search(piece) is not None
        # The widest window that starts with an opener word wins; without one, the narrowest
        # window that holds a date and a time (so a reply line just above stays).
        head = piece.lstrip(_DASHES)
        if closer and _OPENER.match(head) and (has_time or has_date or _has_digit_or_at(parts)):
            return k
        if fallback is None and generic and has_time and has_date:
            fallback = k
    return fallback


def _ends_with_verb(tail: str) -> bool:
    """Whether the line ends with a closing verb as a whole word ("wrote:", "menulis")."""
    word = tail.rstrip(": \t").lower()
    for verb in _CLOSING_VERBS:
        if word.endswith(verb):
            before = len(word) - len(verb) - 1
            return before < 0 or not word[before].isalnum()
    return False


def _has_digit_or_at(parts: list[str]) -> bool:
    return any(_DIGIT_OR_AT.search(p) for p in parts)


def _is_wrapped_quote(clean: list[str], i: int, s: str) -> bool:
    """A long quoted line re-wrapped by the sender's client: '> ... long\\ncontinued\\n>'.

    Only a lowercase start between two ">" lines, under a long one: a short answer typed
    between quoted lines starts with a capital or follows a short question, and is kept.
    """
    if i == 0 or i + 1 >= len(clean) or not s[0].islower():
        return False
    above = clean[i - 1]
    return above[:1] == ">" and clean[i + 1][:1] == ">" and len(above) >= 50


def _signature_start(clean: list[str], kept: list[int]) -> tuple[int | None, str]:
    """Position in ``kept`` where a trailing mobile footer or ``-- `` signature starts, and
    the rule that found it."""
    start: int | None = None
    rule = ""
    # Trailing footers, bottom up ("Sent from my iPhone", "Get Outlook for iOS", ...).
    j = len(kept) - 1
    while j >= 0:
        s = clean[kept[j]]
        if s and not _is_mobile_footer(s):
            break
        if s:
            start = j
            rule = MOBILE_FOOTER
        j -= 1
    # The first "-- " line above, if what follows it is short enough to be a signature.
    limit = len(kept) if start is None else start
    for p in range(limit):
        s = clean[kept[p]]
        if s in _SIG_DASHES or (s[:1] == "_" and _SHORT_UNDERSCORES.fullmatch(s)):
            body = sum(1 for q in kept[p + 1 : limit] if clean[q])
            if body <= _MAX_SIGNATURE_LINES:
                rule = SIG_DASHES if start is None else SIG_DASHES + "+" + MOBILE_FOOTER
                start = p
            break
    return start, rule


def _is_mobile_footer(s: str) -> bool:
    if len(s) > 200 or s[0] == ">":
        return False
    bare = s.strip(" *_")
    plain = _ANGLE_URL.sub("", _MARKDOWN_LINK.sub(r"\1", bare)).strip(" *_")
    if not plain or len(plain) > 80:
        return False
    if _GET_APP.fullmatch(plain):
        return True
    m = _FOOTER.fullmatch(plain)
    if m is None:
        return False
    words = m.group(1).lower().split()
    if words[0] == "my" and len(words) <= 5:  # "Sent from my <1-4 words>" (GitHub's rule)
        return True
    if words[-1] == "saya" or any(w.strip("'’") in _DEVICE_WORDS for w in words):
        return True
    # "Sent from TypeApp<http://...>": an app name with its advert link, never prose.
    return len(plain) < len(bare) and len(words) <= 2


def _join(lines: list[str], clean: list[str], indices: list[int] | range) -> str:
    """Join the chosen lines as written, less trailing whitespace (html2text's markdown line
    breaks, Outlook's padding); blank runs at most two lines, and none added by a cut."""
    out: list[str] = []
    blank_run = 0
    prev = -2
    for i in indices:
        if clean[i]:
            out.append(lines[i].rstrip())
            blank_run = 0
        elif out and (blank_run == 0 or (i == prev + 1 and blank_run < 2)):
            out.append("")
            blank_run += 1
        prev = i
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)

"""What quoted history and signatures look like, as data: the words, phrases and patterns
``quotes`` and ``quote_lines`` look for, per language and mail client. Pure.

Attributions ("On ... wrote:" and its translations), Outlook-style boundaries ("-----Original
Message-----", header blocks such as From/Sent/To/Subject or Dari/Dikirim/Kepada/Subjek),
forward markers, ``-- `` signatures and mobile footers ("Sent from my iPhone"). Also the names
of the rules, as ``Reply.how`` reports them. Adding a language or a client is a change here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

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

# Characters that html2text and mail clients leave around otherwise blank lines.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

# An attribution is at most this long once its wrapped lines are joined; longer is prose.
MAX_ATTRIBUTION = 400
# At most this many physical lines make one wrapped attribution (Gmail wraps at 80 columns,
# so "On <date> <name> <\naddress> wrote:" can take three, Apple Mail's long names four).
ATTRIBUTION_LINES = 4
# A "-- " signature longer than this many lines is more likely text the author separated.
MAX_SIGNATURE_LINES = 20

# --- attributions ------------------------------------------------------------------------
# Words that open an attribution in the languages a helpdesk sees: id, en, fr, de, it, es, pt,
# nl, da/no/sv, pl, cs, ru. Anchored at the start of the joined attribution.
OPENER = re.compile(
    r"(?:on|pada|le|am|il|el|em|op|den|dne|dnia|w\s+dniu|в)\b",
    re.IGNORECASE,
)
# The verb that closes it ("wrote", "menulis", ...), at the very end of the last line, colon
# optional ("---- On ... wrote ----" from Zoho has none). Compared with str.endswith on the
# line's tail, which is several times faster than a regex search over 20 alternatives.
CLOSING_VERBS = (
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
ENDS_WITH_ADDRESS = re.compile(r"@[\w-]+(?:\.[\w-]+)+[^\w@\s]{0,8}\s*:$")
TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
YEAR_OR_DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")
DIGIT_OR_AT = re.compile(r"[\d@]")

# --- boundaries ----------------------------------------------------------------------------
# "-----Original Message-----" and its translations, compared after stripping the dashes.
ORIGINAL_PHRASES = frozenset(
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
FORWARD_PHRASES = frozenset(
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
FORWARD_LINE = re.compile(
    r"(?:begin\s+forwarded\s+message|awal\s+pesan\s+yang\s+diteruskan|pesan\s+yang\s+diteruskan"
    r"|début\s+du\s+message\s+réexpédié|anfang\s+der\s+weitergeleiteten\s+nachricht"
    r"|inicio\s+del\s+mensaje\s+reenviado|inizio\s+messaggio\s+inoltrato)\s*:?$",
    re.IGNORECASE,
)
DASHES = " \t-_=*~—–"
UNDERSCORES = re.compile(r"_{20,}")
# A line that only decorates (hr "* * *", "=====", "-----"): absorbed into a quote boundary.
DECORATION = re.compile(r"[\s*_=~#—–-]{3,}")

# --- header blocks -------------------------------------------------------------------------
# "From: x", "**Dari:** x", "De : x". The label is 1-4 words; bounded, so no backtracking blowup.
HEADER_LINE = re.compile(
    r"[ \t]*(?:\*\*|__)?[ \t]*([^\W\d_][\w'’.-]{0,20}(?: [\w'’.-]{1,20}){0,3}?)"
    r"[ \t]*(?:\*\*|__)?[ \t]*:(?!//)(?:\*\*|__)?(.*)"
)
FROM, SENT, DATE, TO, CC, SUBJECT = "from", "sent", "date", "to", "cc", "subject"
# Label (lowercased, as written in any of the languages) to kind. A label listed under two
# kinds belongs to the later one.
HEADER_KINDS: Mapping[str, str] = MappingProxyType({
    label: kind
    for kind, labels in (
        (
            FROM,
            "from|dari|pengirim|van|von|de|da|od|от|fra|från|frá|lähettäjä|feladó|kimden|από"
            "|expéditeur|remitente|mittente|afzender|发件人|寄件者|差出人|보낸 사람|từ",
        ),
        (
            SENT,
            "sent|dikirim|terkirim|verzonden|gesendet|envoyé|enviado|inviato|wysłano|wysłane"
            "|отправлено|skickat|sendt|lähetetty|gönderildi|odesláno|elküldve|发送时间|送信日時"
            "|보낸 날짜",
        ),
        (
            DATE,
            "date|tanggal|tgl|waktu|datum|fecha|data|дата|päivämäärä|tarih|日期|日付|날짜",
        ),
        (
            TO,
            "to|kepada|untuk|aan|an|à|a|para|per|do|кому|till|til|vastaanottaja|címzett|kime"
            "|收件人|宛先|받는 사람|đến",
        ),
        (CC, "cc|tembusan|kopie|copie à|cc.|копия|kopia|kopio|másolat|抄送|副本|참조"),
        ("bcc", "bcc|bcc."),
        (
            SUBJECT,
            "subject|subjek|perihal|hal|onderwerp|betreff|objet|asunto|oggetto|assunto|temat"
            "|тема|ämne|emne|aihe|tárgy|konu|předmět|主题|主旨|件名|제목|sujet|re",
        ),
    )
    for label in labels.split("|")
})
# Header blocks hold at most this many lines (with Cc, Bcc, Importance, a wrapped address).
MAX_HEADER_LINES = 10

# --- signatures ----------------------------------------------------------------------------
SIGNATURE_DASHES = frozenset({"--", "\\--"})  # "-- " after strip; html2text escapes it as "\--"
# A short line of underscores also opens a signature or a mailing-list footer ("__"); 20 or
# more is Outlook's quote separator, handled as a boundary.
SHORT_UNDERSCORES = re.compile(r"_{2,19}")
MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]{0,200})\]\((?:<[^<>\n]{0,2000}>|[^()\s]{0,2000})\)")
ANGLE_URL = re.compile(r"<(?:https?|mailto):[^<>\s]{0,2000}>")
FOOTER = re.compile(
    r"(?:sent|dikirim|terkirim|envoyé|gesendet|enviado|inviato|verzonden|verstuurd|wysłane"
    r"|отправлено)\s+(?:from|with|via|using|on|dari|melalui|lewat|dengan|de|à\s+partir\s+de"
    r"|von|desde|da|vanaf|met|van|z|из|с)\s+([\w'’&+-]+(?:\s+[\w'’&+-]+){0,6})\s*[.!]?",
    re.IGNORECASE,
)
GET_APP = re.compile(
    r"(?:get|dapatkan|download|unduh|scarica|obtenez|holen\s+sie\s+sich)\s+outlook\s+"
    r"(?:for|untuk|per|pour|für)\s+(?:ios|android|windows)\s*[.!]?",
    re.IGNORECASE,
)
DEVICE_WORDS = frozenset(
    "iphone ipad ipod android ios mobile samsung galaxy blackberry outlook yahoo gmail mail"
    " email e-mail surel ponsel hp handphone smartphone phone huawei xiaomi redmi oppo vivo"
    " realme nokia windows tablet aquamail bluemail spark telkomsel mi lg sony pixel"
    " motorola asus".split()
)

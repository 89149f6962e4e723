"""Is there an answer in what a staff member wrote, or only a greeting and a name? Pure.

Staff sign by habit: "Salam, Rina" under two commands is not an answer, and mailing it to a
supplier as "the helpdesk's answer" embarrasses the helpdesk. A line is courtesy when, once
punctuation is set aside, it is a greeting or sign-off (Indonesian or English), or consists
only of the writer's own name words or the helpdesk's titles. What is left is the substance;
when nothing is left there is no answer to send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PHRASES = frozenset({
    "salam", "salam hangat", "salam sejahtera", "hormat kami", "hormat saya", "wassalam",
    "wassalamualaikum", "wassalamu alaikum warahmatullahi wabarakatuh", "assalamualaikum", "wassalamualaikum wr wb",
    "assalamualaikum wr wb", "terima kasih", "terimakasih", "makasih", "trims", "tks", "thx", "matur nuwun",
    "terima kasih atas perhatiannya", "terima kasih atas perhatian bapak ibu", "terima kasih atas kerja samanya",
    "terima kasih atas kerjasamanya", "selamat pagi", "selamat siang", "selamat sore", "selamat malam", "pagi",
    "siang", "sore", "malam", "halo", "hallo", "hai", "yth", "dengan hormat", "regards", "best regards",
    "kind regards", "warm regards", "thanks", "thank you", "many thanks", "cheers", "sincerely", "best", "dear",
    "hi", "hello", "good morning", "good afternoon", "ttd", "tertanda",
})
_TITLES = frozenset({"petugas", "helpdesk", "tim", "lpse", "kabupaten", "tana", "tidung", "koordinator", "staf",
                     "staff", "admin", "layanan", "pengelola", "bapak", "ibu", "pak", "bu", "mas", "mbak"})
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def substance(text: str, names: Iterable[str] = ()) -> str:
    """``text`` without its courtesy lines (greetings, sign-offs, the writer's name and titles);
    "" when nothing else is in it."""
    own = {w.lower() for name in names for w in _WORD.findall(name)}
    kept: list[str] = []
    signed_off = False
    for line in text.splitlines():
        if _is_courtesy(line, own):
            signed_off = signed_off or bool(_WORD.findall(line))
            continue
        if signed_off and _looks_like_a_name(line):
            continue  # "Salam," then "Rina W." or "Budi (Helpdesk)": the signature under a sign-off
        kept.append(line)
    return "\n".join(kept).strip() if any(line.strip() for line in kept) else ""


def _looks_like_a_name(line: str) -> bool:
    words = _WORD.findall(line)
    return 0 < len(words) <= 4 and all(w[0].isupper() for w in words) and not any(c in line for c in "?!:;")


def _is_courtesy(line: str, own_words: set[str]) -> bool:
    words = [w.lower() for w in _WORD.findall(line)]
    if not words:
        # Punctuation or dashes alone ("--", "-", "...") say nothing; digits do (a code, a date).
        return not any(ch.isdigit() for ch in line)
    phrase = " ".join(words)
    if phrase in _PHRASES:
        return True
    # "Salam, Rina" / "Terima kasih, Budi Santoso": a sign-off followed by the writer's name.
    for cut in range(len(words) - 1, 0, -1):
        if " ".join(words[:cut]) in _PHRASES and all(w in own_words or w in _TITLES for w in words[cut:]):
            return True
    return all(w in own_words or w in _TITLES for w in words)

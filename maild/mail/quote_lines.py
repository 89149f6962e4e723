"""Which line starts what in a reply: attributions, quote boundaries, header blocks, re-wrapped
quoted lines, signatures and mobile footers. Pure.

Each test looks at one position of the cleaned lines (stripped, invisible characters removed)
and reads the patterns of ``quote_patterns``; ``quotes`` runs them top to bottom. They run on
bounded slices with no nested unbounded repetition, so the split stays linear in the input.
"""

from __future__ import annotations

from collections.abc import Callable

from maild.mail.quote_patterns import (
    ANGLE_URL,
    ATTRIBUTION_LINES,
    CLOSING_VERBS,
    DASHES,
    DEVICE_WORDS,
    DIGIT_OR_AT,
    ENDS_WITH_ADDRESS,
    FOOTER,
    FORWARD_LINE,
    FORWARD_PHRASES,
    FROM,
    GET_APP,
    HEADER_BLOCK,
    HEADER_KINDS,
    HEADER_LINE,
    MARKDOWN_LINK,
    MAX_ATTRIBUTION,
    MAX_HEADER_LINES,
    MAX_SIGNATURE_LINES,
    MOBILE_FOOTER,
    OPENER,
    ORIGINAL_MESSAGE,
    ORIGINAL_PHRASES,
    SENT,
    SEPARATOR_LINE,
    SHORT_UNDERSCORES,
    SIG_DASHES,
    SIGNATURE_DASHES,
    TIME,
    UNDERSCORES,
    YEAR_OR_DATE,
)

# Reads line j as "Label: value": (kind or None, value), or None if it is not one.
LabelOf = Callable[[int], "tuple[str | None, str] | None"]


def is_forward(s: str) -> bool:
    """Whether the line is a forward marker ("---------- Forwarded message ---------", ...)."""
    if len(s) > 80:
        return False
    if s[0] in DASHES:
        return s.strip(DASHES).lower() in FORWARD_PHRASES
    return FORWARD_LINE.match(s) is not None


def boundary(clean: list[str], i: int, s: str, label: LabelOf) -> str | None:
    """The rule name if an Outlook-style boundary starts at line ``i``, else None."""
    first = s[0]
    if first in DASHES and len(s) <= 80:
        core = s.strip(DASHES).lower()
        if core in ORIGINAL_PHRASES and s[:2] in ("--", "__", "==", "**", "- "):
            return ORIGINAL_MESSAGE
        if first == "_" and UNDERSCORES.fullmatch(s):
            return SEPARATOR_LINE
    if ":" in s[:40] and is_header_block(clean, i, label):
        return HEADER_BLOCK
    return None


def header_label(s: str) -> tuple[str | None, str] | None:
    """``(kind or None, value)`` if the line looks like ``Label: value``, else None."""
    if ":" not in s[:40]:
        return None
    m = HEADER_LINE.match(s)
    if m is None:
        return None
    label = " ".join(m.group(1).lower().split())
    return HEADER_KINDS.get(label) or HEADER_KINDS.get(label.rstrip(".")), m.group(2)


def is_header_block(clean: list[str], i: int, label: LabelOf) -> bool:
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
    while j < n and j < i + MAX_HEADER_LINES + blanks:
        s = clean[j]
        if not s:
            # Outlook puts each header in its own <p>, so html2text leaves a blank line
            # between them: step over one if a known label follows.
            nxt = label(j + 1) if kinds and j + 1 < n and clean[j + 1] else None
            if nxt is None or nxt[0] is None or blanks >= MAX_HEADER_LINES:
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
                if FROM in kinds and len(kinds) >= 3 and "@" in from_value:
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
                if nxt is None or nxt[0] != FROM:
                    return False
            unknown += 1
            if unknown > 2:
                break
        else:
            if kind in kinds:
                break  # a label seen twice: the next block (or prose) begins
            kinds.add(kind)
            if kind == FROM:
                in_from = True
                from_value = value
        if FROM in kinds and len(kinds) >= 3 and (SENT in kinds or "@" in from_value):
            return True
        j += 1
    return False


def attribution_start(clean: list[str], i: int, s: str) -> int | None:
    """If line ``i`` ends an attribution, the index of its first line, else None.

    The closing verb or address is always on the last line (Gmail wraps before "wrote:",
    not inside it), so it is tested once; the up to three lines above are then joined one
    by one to find where the attribution starts.
    """
    tail = s.rstrip(DASHES)[-40:]
    if not tail or (tail[-1] != ":" and tail[-5:].lower() != "wrote"):
        return None
    closer = _ends_with_verb(tail)
    generic = tail[-1] == ":" and (
        closer or ("@" in tail and ENDS_WITH_ADDRESS.search(tail) is not None)
    )
    if not (closer or generic):
        return None
    has_time = has_date = False
    parts: list[str] = []
    size = 0
    fallback: int | None = None
    for k in range(i, max(-1, i - ATTRIBUTION_LINES), -1):
        piece = clean[k]
        if not piece or (k != i and piece[0] == ">"):
            break
        size += len(piece) + 1
        if size > MAX_ATTRIBUTION:
            break
        parts.append(piece)
        has_time = has_time or TIME.search(piece) is not None
        has_date = has_date or YEAR_OR_DATE.search(piece) is not None
        # The widest window that starts with an opener word wins; without one, the narrowest
        # window that holds a date and a time (so a reply line just above stays).
        head = piece.lstrip(DASHES)
        if closer and OPENER.match(head) and (has_time or has_date or _has_digit_or_at(parts)):
            return k
        if fallback is None and generic and has_time and has_date:
            fallback = k
    return fallback


def _ends_with_verb(tail: str) -> bool:
    """Whether the line ends with a closing verb as a whole word ("wrote:", "menulis")."""
    word = tail.rstrip(": \t").lower()
    for verb in CLOSING_VERBS:
        if word.endswith(verb):
            before = len(word) - len(verb) - 1
            return before < 0 or not word[before].isalnum()
    return False


def _has_digit_or_at(parts: list[str]) -> bool:
    return any(DIGIT_OR_AT.search(p) for p in parts)


def is_wrapped_quote(clean: list[str], i: int, s: str) -> bool:
    """A long quoted line re-wrapped by the sender's client: '> ... long\\ncontinued\\n>'.

    Only a lowercase start between two ">" lines, under a long one: a short answer typed
    between quoted lines starts with a capital or follows a short question, and is kept.
    """
    if i == 0 or i + 1 >= len(clean) or not s[0].islower():
        return False
    above = clean[i - 1]
    return above[:1] == ">" and clean[i + 1][:1] == ">" and len(above) >= 50


def signature_start(clean: list[str], kept: list[int]) -> tuple[int | None, str]:
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
        if s in SIGNATURE_DASHES or (s[:1] == "_" and SHORT_UNDERSCORES.fullmatch(s)):
            body = sum(1 for q in kept[p + 1 : limit] if clean[q])
            if body <= MAX_SIGNATURE_LINES:
                rule = SIG_DASHES if start is None else SIG_DASHES + "+" + MOBILE_FOOTER
                start = p
            break
    return start, rule


def _is_mobile_footer(s: str) -> bool:
    if len(s) > 200 or s[0] == ">":
        return False
    bare = s.strip(" *_")
    plain = ANGLE_URL.sub("", MARKDOWN_LINK.sub(r"\1", bare)).strip(" *_")
    if not plain or len(plain) > 80:
        return False
    if GET_APP.fullmatch(plain):
        return True
    m = FOOTER.fullmatch(plain)
    if m is None:
        return False
    words = m.group(1).lower().split()
    if words[0] == "my" and len(words) <= 5:  # "Sent from my <1-4 words>" (GitHub's rule)
        return True
    if words[-1] == "saya" or any(w.strip("'’") in DEVICE_WORDS for w in words):
        return True
    # "Sent from TypeApp<http://...>": an app name with its advert link, never prose.
    return len(plain) < len(bare) and len(words) <= 2

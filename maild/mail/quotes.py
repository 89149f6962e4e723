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
is. That is for the record of what a reporter sent. What the sender wrote *themselves* in this
message is ``Reply.own``: never quoted history, never forwarded content, ``""`` when there is
none. Staff commands and staff answers are read from ``own`` only: an empty reply above
Outlook's "-----Original Message-----" once kept the quote as its "new text" and ran every
``#`` line of it (the help block of our own notification, the reporter's lines). Salutations and sign-offs ("Terima kasih,\\nBudi") are kept: they are part of what the person
wrote, and the expected results of talon and Crisp keep them too.

Speed: every per-line test is guarded by a cheap check (first character, last character, a
colon in the first 40 characters) and runs only on a bounded slice of the line, and no pattern
has nested unbounded repetition, so time is linear in the input (see tests/test_quotes.py for
the figures). A top-posted reply stops scanning at the first boundary.

The words and patterns per language and client are in ``quote_patterns``; the tests of one
line (is it an attribution, a boundary, a header block, a signature?) in ``quote_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass

from maild.mail.quote_lines import (
    attribution_start,
    boundary,
    header_label,
    is_forward,
    is_wrapped_quote,
    signature_start,
)
from maild.mail.quote_patterns import (
    ALL_QUOTED_KEPT,
    ATTRIBUTION,
    DASHES,
    DECORATION,
    EMPTY,
    FORWARD_KEPT,
    INVISIBLE,
    NONE,
    ORIGINAL_MESSAGE,
    QUOTE_MARKS,
    SIGNATURE_DASHES,
)

__all__ = ["Reply", "split_reply"]


@dataclass(frozen=True)
class Reply:
    """One message split into what the author wrote now and what was trimmed.

    ``text`` is the new text (never empty when the input had any text); ``quoted`` is the
    quoted history that was cut and ``signature`` the signature or mobile footer that was cut
    (each ``""`` if nothing was); ``how`` names the rules that cut, joined with ``+``, or
    ``none``, ``forward-kept``, ``all-quoted-kept`` (everything looked quoted, so nothing was
    cut) or ``empty`` (blank input).

    ``own`` is what the author wrote in this message and nothing else: ``text`` less a kept
    forward (from its marker on), and ``""`` when everything looked quoted. Commands are read
    from it, never from ``text``.
    """

    text: str
    quoted: str
    signature: str
    how: str
    own: str = ""


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
        # Everything looked like history: keep it all rather than lose an answer, but the
        # author wrote none of it (own is empty).
        everything = range(len(lines))
        return Reply(text=_join(lines, clean, everything), quoted="", signature="",
                     how=ALL_QUOTED_KEPT, own="")

    kept, signature, rules = _cut_signature(lines, clean, scan.keep, scan.rules)
    own = kept
    if scan.forward_at is not None:
        # What was forwarded is kept for the record, but the author did not write it.
        above = [i for i in scan.keep if i < scan.forward_at]
        own = _cut_signature(lines, clean, above, [])[0] if any(clean[i] for i in above) else []
    return Reply(
        text=_join(lines, clean, kept),
        quoted=_join(lines, clean, sorted(set(scan.cut))),
        signature=signature,
        how="+".join(dict.fromkeys(rules)) or NONE,
        own=_join(lines, clean, own),
    )


def _cut_signature(lines: list[str], clean: list[str], kept: list[int],
                   rules: list[str]) -> tuple[list[int], str, list[str]]:
    """The kept lines less a trailing signature or mobile footer, the signature, the rules."""
    sig_start, sig_rule = signature_start(clean, kept)
    if sig_start is not None and any(clean[i] for i in kept[:sig_start]):
        # Cut only if something remains: a message that is all signature keeps it as text.
        return kept[:sig_start], _join(lines, clean, kept[sig_start:]), [*rules, sig_rule]
    return kept, "", rules


class _Scan:
    """One top-to-bottom pass over the cleaned lines: which are kept, which are cut, and why."""

    def __init__(self, clean: list[str]) -> None:
        self.clean = clean
        self.keep: list[int] = []
        self.cut: list[int] = []
        self.rules: list[str] = []
        self.forward_at: int | None = None  # where a kept forward starts
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
            if first == ">" or (first.islower() and is_wrapped_quote(clean, i, s)):
                # Quoted, or a long quoted line the sender's client re-wrapped without its ">".
                self._cut_line(i, QUOTE_MARKS)
                i += 1
                continue
            if len(s) >= 8 and (last == ":" or first in DASHES) and is_forward(s):
                if not self.cut:
                    # Nothing quoted above it: the forward is what the sender wants us to read.
                    self.forward_at = i
                    self.keep.extend(range(i, n))
                    self.rules.append(FORWARD_KEPT)
                    return
                self._cut_rest(i, ORIGINAL_MESSAGE)  # a forward inside quoted history
                return
            if (first in DASHES and len(s) >= 8) or ":" in s[:40]:
                rule = boundary(clean, i, s, self.label)
                if rule is not None:
                    self._cut_rest(i, rule)
                    return
            start = None
            if last == ":" or last in DASHES or last in "eE":  # ":", "wrote", "wrote ----"
                start = attribution_start(clean, i, s)
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
        """``header_label`` of line ``j``, parsed once (header blocks are re-read per line)."""
        if j not in self._labels:
            self._labels[j] = header_label(self.clean[j])
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
            if above and (above in SIGNATURE_DASHES or not DECORATION.fullmatch(above)):
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
    if s and (s[0] in INVISIBLE or s[-1] in INVISIBLE):
        s = s.strip(INVISIBLE).strip()
    return s


def _next_nonblank(clean: list[str], i: int) -> str:
    """The next non-blank cleaned line from ``i`` on, or ``""``."""
    n = len(clean)
    while i < n:
        if clean[i]:
            return clean[i]
        i += 1
    return ""


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

"""Authentication-Results header fields (RFC 8601), read by their grammar. Pure.

Why not a regular expression over the value: a receiving server copies text the sender chose
into the header, in comments (``spf=pass (domain of "x" designates ...)``), in quoted strings
(``smtp.mailfrom="dmarc=pass@evil.example"``) and in property values (``smtp.helo=...``). Only
a parser that skips comments (nested, with quoted-pairs) and reads quoted strings as one
value tells the server's verdicts from the sender's words.

Why not the ``authres`` package from PyPI (1.2.0, its last release in 2019): it rejects the
whole field for a trailing ``;`` and for the form Microsoft 365 writes (no authserv-id), and
raises RecursionError on deeply nested comments. The grammar is small; this reader is
iterative, never raises, and answers None for a field it cannot read (which proves nothing).

The values are read from the raw header section (``raw_fields``), never from decoded text:
decoding RFC 2047 encoded words first would turn ``=?us-ascii?q?=3B_dmarc=3Dpass?=`` in an
envelope sender the server quoted into a real ``; dmarc=pass``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AuthResults", "MethodResult", "parse_authentication_results", "raw_fields"]

# Characters of a token (RFC 2045) as a method, result, ptype.property or authserv-id uses them.
_TOKEN_STOP = frozenset(' \t\r\n()<>@,;:\\"/[]?=')
# An unquoted property value also takes "@", "/" and "=" (an address, base64 in header.b).
_VALUE_STOP = frozenset(' \t\r\n();"')


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` of the field with its properties, names lowercased
    (``("header.d", "example.com")``); values as written, quotes removed."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        """The first value of property ``name`` (e.g. ``header.from``), or None."""
        return next((v for k, v in self.properties if k == name), None)


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results field: who wrote it and what it reports.

    ``authserv_id`` is lowercased, and "" for a field without one (Microsoft 365 writes
    ``spf=pass ...; dkim=pass ...`` with no authserv-id)."""

    authserv_id: str
    results: tuple[MethodResult, ...]


def raw_fields(raw: bytes, name: str) -> list[str]:
    """The values of every ``name`` field in the header section of ``raw``, top first,
    unfolded but not decoded (encoded words stay as written)."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    wanted, out, current = name.lower() + ":", [], None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and current is not None:
            current.append(line)
            continue
        if current is not None:
            out.append("".join(current).strip())
        current = [line[len(wanted):]] if line.lower().startswith(wanted) else None
    if current is not None:
        out.append("".join(current).strip())
    return out


def parse_authentication_results(value: str) -> AuthResults | None:
    """The field ``value`` as RFC 8601 reads it; None when it does not follow the grammar."""
    cur = _Cursor(value)
    cur.cfws()
    authserv = ""
    start = cur.pos
    first = cur.value()
    cur.cfws()
    if first is None:
        return None
    if cur.peek() in ("=", "/"):
        cur.pos = start  # no authserv-id: the field starts with its first result (Microsoft 365)
    else:
        authserv = first.lower()
        if cur.peek().isdigit():  # authres-version
            cur.token()
            cur.cfws()
    results: list[MethodResult] = []
    while not cur.at_end():
        if authserv or results:
            if not cur.take(";"):
                return None
            cur.cfws()
            if cur.at_end():
                break  # a trailing ";" (written by some servers) ends the field
        found = _resinfo(cur)
        if found is None:
            return None
        if found.method == "none" and not results and cur.at_end():
            break  # "authserv-id; none": nothing was checked
        results.append(found)
    return AuthResults(authserv, tuple(results))


def _resinfo(cur: _Cursor) -> MethodResult | None:
    """``method[/version]=result [reason=...] [ptype.property=value ...]``."""
    method = cur.token()
    if not method:
        return None
    cur.cfws()
    if cur.take("/"):
        cur.cfws()
        cur.token()
        cur.cfws()
    if method.lower() == "none" and cur.peek() != "=":
        return MethodResult("none", "")
    if not cur.take("="):
        return None
    cur.cfws()
    result = cur.token()
    if not result:
        return None
    props: list[tuple[str, str]] = []
    while True:
        cur.cfws()
        if cur.at_end() or cur.peek() == ";":
            return MethodResult(method.lower(), result.lower(), tuple(props))
        name = cur.dotted()
        cur.cfws()
        if not name or not cur.take("="):
            return None
        cur.cfws()
        found = cur.pvalue()
        if found is None:
            return None
        props.append((name.lower(), found))


class _Cursor:
    """A position in the field's text and the lexical pieces of RFC 5322/8601."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def cfws(self) -> None:
        """Skip white space and comments; comments nest and take quoted-pairs. An unclosed
        comment runs to the end of the field (which then has nothing more to say)."""
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and depth:
                self.pos += 2
                continue
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif not depth and char not in " \t\r\n":
                return
            self.pos += 1
        self.pos = len(self.text)

    def _run(self, stop: frozenset[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start:self.pos]

    def token(self) -> str:
        return self._run(_TOKEN_STOP)

    def dotted(self) -> str:
        """``ptype.property`` (or ``reason``), with white space allowed around the dot."""
        name = self.token()
        mark = self.pos
        self.cfws()
        if self.peek() == ".":
            self.pos += 1
            self.cfws()
            return f"{name}.{self.token()}"
        self.pos = mark
        return name

    def quoted(self) -> str | None:
        """The content of a quoted-string at the cursor, quoted-pairs undone; None if unclosed."""
        out, self.pos = [], self.pos + 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\" and self.pos < len(self.text):
                char = self.text[self.pos]
                self.pos += 1
            out.append(char)
        return None

    def value(self) -> str | None:
        """A token or a quoted-string (RFC 2045 ``value``)."""
        if self.peek() == '"':
            return self.quoted()
        found = self.token()
        return found or None

    def pvalue(self) -> str | None:
        """A property value: a quoted-string (perhaps the local-part of ``"..."@domain``) or an
        unquoted run such as ``@example.com``, ``user@example.com`` or base64."""
        if self.peek() == '"':
            local = self.quoted()
            if local is None:
                return None
            rest = self._run(_VALUE_STOP) if self.peek() == "@" else ""
            return local + rest
        found = self._run(_VALUE_STOP)
        return found or None

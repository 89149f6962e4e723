"""The HTML part of a mail, built from its text part: one wording, two layouts. Pure.

The text templates write by a few layout conventions; each becomes HTML that reads on a
390 px phone as well as on a desktop (one column, nothing wider than the screen, inline CSS
because mail clients drop ``<style>``):

- a paragraph (lines at column 0): reflowed by the browser after a long line that runs on (a
  hard wrap in what someone wrote); a line break kept after a short line (a signature, an
  address) or one that ends a sentence;
- an aligned block of ``  Label : value`` lines (two or more, colons in one column): label and
  value pairs, the value wrapping anywhere;
- indented text between two rule lines (``------`` or ``======``), or any indented block: cited
  text (a report, a note), in a box that keeps its line breaks; a lone rule or ``--``: a thin line;
- ``- ``, ``* ``, ``• `` or ``1. `` lines: a list; what is indented under an item belongs to it,
  and an item's parts set apart by two spaces (``date  who  what``) are spelled out;
- a short line that ends in ``:``: a heading for what follows.

Everything is HTML-escaped (the content is whatever a stranger wrote); http(s) addresses
become links.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from html import escape

__all__ = ["inline_images", "text_to_html"]

_RULE = re.compile(r"^\s*(?:-{10,}|={10,})\s*$")
_SEPARATOR = re.compile(r"^--\s?$")  # the signature separator
_KV = re.compile(r"^( {1,4})(\S[^:]{0,30}?)( +): ?(.*)$")
_ITEM = re.compile(r"^( {0,4})(?:([-*•])|(\d{1,2})\.) +(\S.*)$")
_URL = re.compile(r"https?://[^\s<>\"'`]+")
_PARTS = re.compile(r" {2,}")
# A line at least this long that runs on into the next was wrapped by its writer, not ended.
_WRAPPED = 60

_P = "margin:0 0 12px;"
_HEADING = "margin:16px 0 6px;font-weight:bold;"
_CITE = ("margin:4px 0 12px;padding:8px 10px;border-left:3px solid #c5cad3;background:#f6f7f9;"
         "white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;")
_RULE_CSS = "border:0;border-top:1px solid #dde1e6;margin:12px 0;height:0;"
_LIST = "margin:0 0 12px;padding-left:22px;"
_LI = "margin:0 0 6px;"
_PAIRS = "margin:0 0 12px;border-top:1px solid #eef0f3;"
_PAIR = "display:flex;flex-wrap:wrap;padding:4px 0;border-bottom:1px solid #eef0f3;"
_LABEL = "flex:0 0 8.5em;color:#5f6b7a;padding-right:8px;"
_VALUE = "flex:1 1 14em;min-width:0;overflow-wrap:anywhere;word-break:break-word;"


def text_to_html(text: str) -> str:
    """The body of the HTML part for a mail whose text part is ``text`` (see the module doc)."""
    return "\n".join(_Blocks(text.expandtabs(4).splitlines()).html())


def inline_images(html: str, images: tuple[tuple[str, bytes], ...]) -> str:
    """``html`` with each ``cid:NAME`` image source replaced by the PNG itself as a data: URI,
    for looking at a mail's HTML outside a mail client (a preview written to a file)."""
    for name, data in images:
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        html = html.replace(f'src="cid:{name}"', f'src="{uri}"')
    return html


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _inline(text: str) -> str:
    """Escaped text with http(s) addresses as links."""
    out, at = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?)]}")
        out.append(escape(text[at:m.start()]))
        out.append(f'<a href="{escape(url, quote=True)}" style="color:#1a56db;">{escape(url)}</a>')
        at = m.start() + len(url)
    out.append(escape(text[at:]))
    return "".join(out)


@dataclass
class _Blocks:
    lines: list[str]

    def html(self) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if not line.strip():
                i += 1
            elif _RULE.match(line):
                end = next((j for j in range(i + 1, len(self.lines)) if _RULE.match(self.lines[j])), None)
                if end is None:
                    out.append(f'<hr style="{_RULE_CSS}">')
                    i += 1
                else:
                    out.append(_cited(self.lines[i + 1:end]))
                    i = end + 1
            elif _SEPARATOR.match(line):
                out.append(f'<hr style="{_RULE_CSS}">')
                i += 1
            elif (end := self._pairs_end(i)) > i + 1:
                out.append(_pairs(self.lines[i:end]))
                i = end
            elif _ITEM.match(line):
                i = self._list(i, out)
            elif _indent(line):
                end = self._indented_end(i)
                out.append(_cited(self.lines[i:end]))
                i = end
            else:
                i = self._paragraph(i, out)
        return out

    def _pairs_end(self, i: int) -> int:
        """Where the aligned ``Label : value`` block starting at ``i`` ends (``i`` if none)."""
        first = _KV.match(self.lines[i])
        if first is None:
            return i
        column = len(first.group(1) + first.group(2) + first.group(3))
        j = i + 1
        while j < len(self.lines):
            m = _KV.match(self.lines[j])
            if m is None or len(m.group(1) + m.group(2) + m.group(3)) != column:
                break
            j += 1
        return j

    def _next_text(self, i: int) -> int | None:
        """The first non-blank line from ``i`` on."""
        return next((j for j in range(i, len(self.lines)) if self.lines[j].strip()), None)

    def _indented_end(self, i: int, deeper_than: int = 0) -> int:
        """Where the block of lines indented more than ``deeper_than`` from ``i`` ends; blank
        lines inside it belong to it, and an aligned label block after it does not."""
        j = i
        while j < len(self.lines):
            if self.lines[j].strip():
                if _indent(self.lines[j]) <= deeper_than or _RULE.match(self.lines[j]):
                    break
                j += 1
                continue
            nxt = self._next_text(j)
            if (nxt is None or _indent(self.lines[nxt]) <= deeper_than or _RULE.match(self.lines[nxt])
                    or self._pairs_end(nxt) > nxt + 1):
                break
            j = nxt
        return j

    def _list(self, i: int, out: list[str]) -> int:
        first = _ITEM.match(self.lines[i])
        assert first is not None
        depth, numbered = len(first.group(1)), first.group(3) is not None
        items: list[str] = []
        while True:
            m = _ITEM.match(self.lines[i])
            if m is None or len(m.group(1)) != depth or (m.group(3) is not None) != numbered:
                break
            body = _item(m.group(4))
            i += 1
            nxt = self._next_text(i)
            if (nxt is not None and _indent(self.lines[nxt]) > depth and not _ITEM.match(self.lines[nxt])
                    and self._pairs_end(nxt) <= nxt + 1):
                end = self._indented_end(nxt, deeper_than=depth)
                body += _cited(self.lines[nxt:end])
                i = end
            items.append(f'<li style="{_LI}">{body}</li>')
            nxt = self._next_text(i)
            if nxt is None or not _ITEM.match(self.lines[nxt]):
                break
            i = nxt
        tag = "ol" if numbered else "ul"
        start = f' start="{int(first.group(3))}"' if numbered and first.group(3) != "1" else ""
        out.append(f'<{tag}{start} style="{_LIST}">' + "".join(items) + f"</{tag}>")
        return i

    def _paragraph(self, i: int, out: list[str]) -> int:
        lines = [self.lines[i]]
        i += 1
        while i < len(self.lines):
            line = self.lines[i]
            if (not line.strip() or _indent(line) or _RULE.match(line) or _SEPARATOR.match(line)
                    or _ITEM.match(line)):
                break
            lines.append(line)
            i += 1
        if len(lines) == 1 and len(lines[0]) <= 60 and lines[0].rstrip().endswith(":"):
            out.append(f'<p style="{_HEADING}">{_inline(lines[0].strip())}</p>')
            return i
        html = _inline(lines[0].rstrip())
        for before, line in zip(lines, lines[1:]):
            wrapped = len(before.rstrip()) >= _WRAPPED and not before.rstrip().endswith((".", ":", "!", "?"))
            html += (" " if wrapped else "<br>\n") + _inline(line.rstrip())
        out.append(f'<p style="{_P}">{html}</p>')
        return i


def _item(text: str) -> str:
    """A list item's line: ``date  who  what`` (parts two spaces apart) with the first part bold."""
    parts = [p for p in _PARTS.split(text.strip()) if p]
    if len(parts) < 2:
        return _inline(text.strip())
    return f"<strong>{_inline(parts[0])}</strong> " + " · ".join(_inline(p) for p in parts[1:])


def _cited(lines: list[str]) -> str:
    """Someone's own text, line breaks as written, in a box that never widens the page."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        return ""
    cut = min(_indent(line) for line in lines if line.strip())
    body = "\n".join(line[cut:].rstrip() for line in lines)
    return f'<div style="{_CITE}">{_inline(body)}</div>'


def _pairs(lines: list[str]) -> str:
    rows = []
    for line in lines:
        m = _KV.match(line)
        assert m is not None
        rows.append(f'<div style="{_PAIR}"><div style="{_LABEL}">{_inline(m.group(2))}</div>'
                    f'<div style="{_VALUE}">{_inline(m.group(4).strip()) or "&nbsp;"}</div></div>')
    return f'<div style="{_PAIRS}">' + "".join(rows) + "</div>"

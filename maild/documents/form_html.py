"""The recording form as printable A4 HTML, from the values ``form_data`` loaded.

Rendering only: the page shows a ``FormData`` and never reads the database, so the HTML and
the PDF of one ticket say the same thing.
"""

from __future__ import annotations

from maild.documents.form_data import FormData
from maild.documents.templating import Templates, render_document
from maild.sop.vocabulary import Priority, TicketType, labels


def form_html(data: FormData, templates: Templates = None, language: str = "id") -> str:
    """The form as printable A4 HTML (``templates/<language>/form.html.j2``, Indonesian labels)."""
    return render_document(templates, "form.html.j2", language, {
        "f": data, "types": tuple(labels(TicketType).items()),
        "priorities": tuple(labels(Priority).items()),
    })

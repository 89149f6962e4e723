"""The Jinja2 environment of the read-side documents (the form and the monthly report as HTML).

The documents are whole pages written to files, not mails, so they have their own environment
over the same template directory as the ``Renderer``: autoescaped ``.html.j2``, strict about
undefined names. Images go inline as ``data:`` URIs so each page is one self-contained file.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from maild.base.resources import resource_dir
from maild.render.renderer import Renderer

Templates = Renderer | jinja2.Environment | Path | None


@lru_cache(maxsize=8)
def _environment_at(directory: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def environment(templates: Templates = None) -> jinja2.Environment:
    """A Jinja2 environment over maild's templates: given, a Renderer's directory, or the shipped one."""
    if isinstance(templates, jinja2.Environment):
        return templates
    if isinstance(templates, Renderer):
        return _environment_at(str(templates.directory))
    return _environment_at(str(templates or resource_dir("templates")))


def render_document(templates: Templates, name: str, language: str, context: Mapping[str, Any]) -> str:
    """Render ``<language>/<name>``, falling back to the Indonesian original (the SOP's language)."""
    env = environment(templates)
    try:
        template = env.get_template(f"{language}/{name}")
    except jinja2.TemplateNotFound:
        template = env.get_template(f"id/{name}")
    return template.render(**context)


def data_uri(image: bytes | None) -> str:
    """An image as a ``data:`` URI (PNG, JPEG, GIF or SVG, by its first bytes); "" for none."""
    if not image:
        return ""
    kind = ("image/png" if image.startswith(b"\x89PNG") else "image/jpeg" if image.startswith(b"\xff\xd8")
            else "image/gif" if image.startswith(b"GIF8") else "image/svg+xml")
    return f"data:{kind};base64,{base64.b64encode(image).decode('ascii')}"

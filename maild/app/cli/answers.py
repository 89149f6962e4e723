"""``maild answers list|show``: the stored answers staff send with ``#jawab NAMA``.

They are files in the folder ``[answers] folder`` names (or the ones shipped with maild), so
these commands show them and say where they are; every one is checked when the folder is read.
"""

from __future__ import annotations

import click

from maild.app.cli.context import Context, print_json, print_table
from maild.app.factory import answers as load_answers
from maild.base.errors import MaildError
from maild.base.suggest import closest
from maild.render.answers import SUFFIX, sample_values


@click.group()
def answers() -> None:
    """Stored answers for #jawab / #answer (files NAME.txt.j2 in [answers] folder)."""


@answers.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def answers_list(obj: Context, as_json: bool) -> None:
    """Each stored answer: its name (what follows #jawab) and its first line."""
    stored = load_answers(obj.settings())
    rows = [{"name": name, "first_line": stored.first_line(name)} for name in stored.names()]
    print_json(rows) if as_json else print_table(rows, ["name", "first_line"])
    if not as_json:
        click.echo(f"from {stored.folder}", err=True)


@answers.command("show")
@click.argument("name")
@click.option("--raw", is_flag=True, help="The template as written, not rendered.")
@click.pass_obj
def answers_show(obj: Context, name: str, raw: bool) -> None:
    """Stored answer NAME as a reporter reads it, with sample values (Budi Santoso, ticket
    26-0001); --raw shows the template itself."""
    settings = obj.settings()
    stored = load_answers(settings)
    key = name.strip().lower()
    if key not in stored.names():
        suggestion = closest(key, stored.names())
        hint = f"; did you mean {suggestion!r}?" if suggestion else f" (known: {', '.join(stored.names()) or '-'})"
        raise MaildError(f"no stored answer {name!r} in {stored.folder}{hint}")
    if raw:
        click.echo(stored.source(key), nl=False)
        click.echo(f"({stored.folder / (key + SUFFIX)})", err=True)
        return
    h = settings.helpdesk
    click.echo(stored.render(key, sample_values(h.name, h.address.lower(), h.ticket_tag)))


COMMANDS = (answers,)

"""``maild staff`` and ``groups``: who works the helpdesk. They are kept in the config file,
so these commands list them and say where to change them."""

from __future__ import annotations

import click

from maild.app.cli.context import Context, print_json, print_table
from maild.base.errors import MaildError
from maild.sop.vocabulary import Role


@click.group()
def staff() -> None:
    """Helpdesk staff (kept in the config file)."""


@click.group()
def groups() -> None:
    """Service groups (kept in the config file)."""


def _party_commands(group: click.Group, kind: str) -> None:
    @group.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def listing(obj: Context, as_json: bool) -> None:
        settings = obj.settings()
        if kind == "staff":
            rows = [{"name": p.name, "address": p.address, "role": str(Role.STAFF)} for p in settings.staff]
            if settings.coordinator.address:
                rows.append({"name": settings.coordinator.name, "address": settings.coordinator.address,
                             "role": str(Role.COORDINATOR)})
            print_json(rows) if as_json else print_table(rows, ["role", "name", "address"])
        else:
            rows = [{"name": g.name, "title": g.title, "managers": ", ".join(g.managers)} for g in settings.groups]
            print_json(rows) if as_json else print_table(rows, ["name", "title", "managers"])

    for verb in ("add", "remove"):
        @group.command(verb, context_settings={"ignore_unknown_options": True})
        @click.argument("args", nargs=-1)
        @click.pass_obj
        def edit(obj: Context, args: tuple[str, ...], verb: str = verb) -> None:
            table = "[[staff]] / [coordinator]" if kind == "staff" else "[[groups]]"
            raise MaildError(f"{kind} are kept in the config file {obj.config_path}: edit {table} there, "
                             "then 'maild check-config' and reload the daemon (SIGHUP); nothing was changed")


_party_commands(staff, "staff")
_party_commands(groups, "groups")

COMMANDS = (staff, groups)

"""``maild form``, ``report``, ``export register`` and ``digest``: the documents maild writes
about tickets, for the reporter's file, the head of the LPSE, audits and the coordinator."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from maild.app.cli.context import MAILBOX_OPTION, Context, no_ticket, print_json
from maild.app.factory import document_settings
from maild.base.clock import system_clock
from maild.base.settings import Settings
from maild.base.errors import MaildError
from maild.documents.digest import cause_key
from maild.render.html_mail import inline_images
from maild.render.renderer import local_time
from maild.store.db import transaction


@click.command()
@click.argument("number")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Write the PDF here.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write printable HTML here.")
@MAILBOX_OPTION
@click.pass_obj
def form(obj: Context, number: str, pdf_path: str | None, html_path: str | None) -> None:
    """The "Formulir Pencatatan Gangguan dan Permintaan Layanan" of one ticket (HTML and PDF):
    NUMBER, or TAG#NUMBER of another mailbox."""
    from maild.documents.form_data import form_data
    from maild.documents.form_html import form_html
    from maild.documents.form_pdf import form_pdf

    mailbox, number = obj.ticket(number)
    settings = obj.desk_settings(mailbox)
    with obj.session() as s:
        data = form_data(s, number, document_settings(settings), now=system_clock())
    if data is None:
        raise no_ticket(number, mailbox)
    pdf_path = pdf_path or (None if html_path else f"formulir-{number}.pdf")
    if pdf_path:
        Path(pdf_path).write_bytes(form_pdf(data))
        click.echo(f"wrote {pdf_path}")
    if html_path:
        Path(html_path).write_text(form_html(data), encoding="utf-8")
        click.echo(f"wrote {html_path}")


@click.command()
@click.option("--month", default="", is_flag=False, flag_value="",
              help="The month, YYYY-MM (default, also for a bare --month: the last full month).")
@click.option("--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where to write the HTML report and the CSV beside it.")
@click.option("--send", is_flag=True,
              help="Mail it now to the head of the LPSE and the coordinator instead (as the daemon does on the "
                   "first working day; once per month either way).")
@click.option("--skm", is_flag=True,
              help="Print the satisfaction survey (SKM) of a year instead, as Permenpan RB 14/2017 asks.")
@click.option("--year", type=click.IntRange(2000, 9999), help="With --skm: the year (default: this year).")
@click.option("--json", "as_json", is_flag=True, help="With --skm: machine-readable output.")
@MAILBOX_OPTION
@click.pass_obj
def report(obj: Context, month: str, out_dir: str, send: bool, skm: bool, year: int | None, as_json: bool) -> None:
    """The monthly report for the head of the LPSE (Indonesian HTML with charts, and a CSV) on
    the tickets of one mailbox; with --send, mailed now; with --skm, the satisfaction survey of
    a year instead."""
    from maild.documents.report_figures import last_full_month, month_bounds, monthly_report
    from maild.documents.report_output import write_report

    settings = obj.desk_settings()
    now = system_clock()
    if skm:
        _survey_year(obj, settings, year or now.astimezone(ZoneInfo(settings.helpdesk.timezone)).year, as_json)
        return
    if year is not None or as_json:
        raise click.UsageError("--year and --json go with --skm")
    month = month or last_full_month(now, settings.helpdesk.timezone)
    try:
        _, end = month_bounds(month, settings.helpdesk.timezone)
    except ValueError as exc:
        raise click.UsageError(f"--month: {exc}") from None
    if send:
        if end > now:
            raise click.UsageError(f"--send: {month} is not over yet (a month's report is mailed once, complete)")
        _send_report(obj, month, now)
        return
    with obj.session() as s:
        rep = monthly_report(s, month, document_settings(settings), now)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    html_file, csv_file = write_report(rep, Path(out_dir))
    click.echo(f"wrote {html_file} and {csv_file}")


def _survey_year(obj: Context, settings: Settings, year: int, as_json: bool) -> None:
    """The year's satisfaction survey: the figure the regulation asks for at least once a year."""
    from maild.documents.survey_figures import survey_figures, year_bounds
    from maild.documents.survey_output import survey_data, survey_text

    start, end = year_bounds(year, settings.helpdesk.timezone)
    with obj.session() as s:
        figures = survey_figures(s, start, end, settings.helpdesk.timezone, settings.helpdesk.language,
                                 settings.mailbox.name)
    if as_json:
        print_json({"year": year, **survey_data(figures)})
    else:
        click.echo(survey_text(figures, str(year)), nl=False)


def _send_report(obj: Context, month: str, now: datetime) -> None:
    """Queue the month's report by hand (the daemon's key: it is not sent twice) and send it."""
    with obj.services() as services:
        mail = services.report_mail
        if not mail.settings.recipients:
            raise MaildError("no one to send the monthly report to ([sla] head_address, [coordinator] address or "
                             "[report] also_to)")
        sent = mail.send(month, now)
        if sent.queued:
            services.sender.run_once()
        tz = mail.settings.documents.timezone
        parts = [f"queued for {', '.join(sent.queued)}; sent if the SMTP server took it ('maild outbox list')"
                 ] if sent.queued else []
        earlier: dict[str, list[str]] = {}
        for address, at, done in sent.earlier:
            earlier.setdefault(f"already {'sent' if done else 'queued'} on {local_time(at, tz, 'en')}", []).append(address)
        parts += [f"{when} to {', '.join(addresses)}" for when, addresses in earlier.items()]
        click.echo(f"report {month}: {'; '.join(parts)}" + ("" if sent.queued else " (not sent again)"))


@click.group()
def export() -> None:
    """Exports for audits."""


@export.command("register")
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (WITA).")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (WITA).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Output file (csv: default stdout).")
@MAILBOX_OPTION
@click.pass_obj
def export_register(obj: Context, date_from: datetime, date_to: datetime, fmt: str, out_path: str | None) -> None:
    """The register: one row per ticket of one mailbox received in the period, every field of the form."""
    from maild.documents.register import register_rows, to_csv, write_xlsx

    if date_from > date_to:
        raise click.UsageError(f"--from {date_from:%Y-%m-%d} is after --to {date_to:%Y-%m-%d}")
    settings = obj.desk_settings()
    tz = ZoneInfo(settings.helpdesk.timezone)
    start, end = date_from.replace(tzinfo=tz), date_to.replace(tzinfo=tz) + timedelta(days=1)
    with obj.session() as s:
        rows = register_rows(s, start, end, document_settings(settings))
    if fmt == "xlsx":
        path = Path(out_path or f"register-{date_from:%Y%m%d}-{date_to:%Y%m%d}.xlsx")
        write_xlsx(rows, path, f"Register helpdesk {date_from:%Y-%m-%d} s.d. {date_to:%Y-%m-%d}")
        click.echo(f"wrote {path} ({len(rows)} tickets)")
    elif out_path:
        Path(out_path).write_text(to_csv(rows), encoding="utf-8")
        click.echo(f"wrote {out_path} ({len(rows)} tickets)")
    else:
        click.echo(to_csv(rows), nl=False)


@click.command()
@click.option("--preview", "mode", flag_value="preview", default=True, help="Print the digest (default).")
@click.option("--send", "mode", flag_value="send", help="Queue it for the coordinator now and send it.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="With --preview: also write the HTML here.")
@MAILBOX_OPTION
@click.pass_obj
def digest(obj: Context, mode: str, html_path: str | None) -> None:
    """The coordinator's daily digest of one mailbox: preview it, or send it now."""
    with obj.services() as services:
        now = system_clock()
        with transaction(services.factory) as session:
            view = services.digest.compose(session, now)
            recipients = services.digest.settings.recipients
            if mode == "send":
                if not recipients:
                    raise MaildError("no coordinator configured ([coordinator] address)")
                for address, name in recipients:
                    cause = cause_key(services.settings.mailbox.name, f"digest:{address}:manual:{now.isoformat()}")
                    services.digest.queue(session, view, address, name, cause, now)
            else:
                name = recipients[0][1] if recipients else ""
                rendered = services.renderer.render("digest", services.digest.settings.language,
                                                    dataclasses.replace(view, recipient_name=name))
                images = services.digest.images(view) if html_path else ()
        if mode == "send":
            services.sender.run_once()
            click.echo(f"digest queued for {', '.join(a for a, _ in recipients)}; sent if the SMTP server took it "
                       "('maild outbox list')")
            return
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text)
    if html_path:
        # A file opened in a browser has no cid: parts to point at: the chart goes inside it.
        Path(html_path).write_text(inline_images(rendered.html, images), encoding="utf-8")


COMMANDS = (form, report, export, digest)

"""`migrate --to postgresql://...`: copy the SQLite history of -db into an empty PostgreSQL
database and check the copy (monitor/store/migrate.py); print the rows of each table on
both sides. A refusal or a difference ends in one `Error:` line and exit 1, the target left
as it was; a URL that is not PostgreSQL's, in a usage error (exit 2). The URL's password is
never printed."""

from __future__ import annotations

import re

import click

from monitor.cli.errors import guarded

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")  # a URL's password, as libpq quotes it


def _check_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from monitor.store.postgres.connection import is_url, say_error

    if not is_url(value):
        # The value may hold a password: named by its place, not echoed.
        raise click.BadParameter("must be a PostgreSQL URL, such as"
                                 " postgresql://user@host/database")
    import psycopg

    try:
        parts = psycopg.conninfo.conninfo_to_dict(value)
    except psycopg.Error as exc:
        try:
            text = say_error(value, exc)
        except ValueError:  # a URL urllib cannot split either ("[::1"): masked here
            text = _PASSWORD.sub(r"\1***@", str(exc).strip())
        raise click.BadParameter(f"not a valid PostgreSQL URL: {text}") from None
    # (libpq checks a port only when it connects; several hosts give several ports)
    for port in str(parts.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise click.BadParameter(f"not a valid PostgreSQL URL: the port {port!r} is not"
                                     " a number from 1 to 65535")
    return value


@click.command("migrate")
@click.option("--to", "url", required=True, metavar="URL", callback=_check_url,
              help="The PostgreSQL database to copy into, empty: postgresql://user@host/db"
                   " (a password better in PGPASSWORD or ~/.pgpass than in the URL).")
@click.option("-db", "--database", "db_path", metavar="FILE",
              help="The SQLite database to copy (default: monitoring.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def migrate_command(ctx: click.Context, url: str, db_path: str | None, debug: bool) -> None:
    """Copy the SQLite history into a PostgreSQL database.

    Copies every table (checks, aggregates, alerts and their notifications, monitors and
    their state, maintenance, pushes, metric series, agents' marks) column for column,
    ids kept, in one transaction, then checks that both sides hold the same rows and
    prints their counts. Refused while a monitor (-m) runs on the file, and when the
    target already holds history: then nothing is written. Stop the monitor first; start
    it on the PostgreSQL database afterwards.
    """
    root = ctx.find_root()
    db = db_path or str(root.params.get("db_path") or "monitoring.db")

    def run() -> None:
        from monitor.store.migrate import MigrateError, migrate

        try:
            done = migrate(db, url, progress=lambda line: click.echo(line, err=True))
        except MigrateError as exc:
            if exc.counts:
                for line in count_lines(exc.counts):
                    click.echo(line)
            raise
        rate = done.rows / done.seconds if done.seconds > 0 else 0.0
        click.echo(f"Copied {done.source} into {done.target} in {done.seconds:.1f} s:"
                   f" {done.rows:,} rows, {rate:,.0f} rows/s.")
        for line in count_lines(done.counts):
            click.echo(line)
        click.echo(f"Checked, the same on both sides: {'; '.join(done.checked)}.")
        if done.underived:
            click.echo(f"{done.underived:,} checks were not yet in the aggregates: the monitor"
                       " adds them at its first start on the PostgreSQL database.")

    guarded(debug or bool(root.params.get("debug")), run)


def count_lines(counts: list) -> list[str]:  # list[TableCount]: imported late (cheap --help)
    """The rows of each table on both sides, aligned, a mark where they differ."""
    rows = [("table", "SQLite", "PostgreSQL", "")]
    rows += [(c.table, f"{c.source:,}", f"{c.target:,}", "" if c.same else "DIFFERS")
             for c in counts]
    rows.append(("total", f"{sum(c.source for c in counts):,}",
                 f"{sum(c.target for c in counts):,}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}"
            f"  {row[3]}".rstrip() for row in rows]

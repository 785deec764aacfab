"""``mlposture serve``: the read-only web dashboard over the fleet database.

Registered in the ``mlposture.commands`` entry-point group; the web stack (Starlette, Jinja2, uvicorn) and the
fleet store are imported only when the command runs, and a missing extra is reported with the command that
installs it.
"""

from __future__ import annotations

import ipaddress
import os
import sys

import click

TOKEN_ENV = "MLPOSTURE_TOKEN"
EXTRA_MODULES = {"uvicorn", "starlette", "jinja2", "markupsafe", "sqlalchemy", "alembic", "psycopg"}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the loopback names."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="Fleet database: sqlite:///PATH or postgresql+psycopg://... (default: MLPOSTURE_DB or "
                   "sqlite:///.mlposture/fleet.db).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the posture of every repository.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--token", default=None, metavar="TOKEN",
              help=f"Require this token on every request (Authorization: Bearer TOKEN, or the login form). "
                   f"Default: {TOKEN_ENV} when set.")
def serve(db_url: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the read-only web dashboard of the fleet database (needs mlposture[fleet])."""
    try:
        import uvicorn

        from mlposture.dashboard.app import create_app
        from mlposture.dashboard.data import FleetData
        from mlposture.fleet.store import StoreError
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in EXTRA_MODULES:
            raise
        click.echo(f"mlposture serve: error: {exc.name} is not installed; the dashboard is part of the fleet extra: "
                   "pip install 'mlposture[fleet]'", err=True)
        sys.exit(2)
    token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
    if token is not None and len(token) < 16:
        click.echo("mlposture serve: error: the token must be at least 16 characters", err=True)
        sys.exit(2)
    if not is_loopback(host):
        click.echo(f"mlposture serve: warning: listening on {host}, not on loopback: anyone who can reach this "
                   "address can read the posture and evidence of every repository"
                   + ("" if token else "; set --token (or MLPOSTURE_TOKEN)")
                   + ". Put a TLS-terminating proxy in front of it.", err=True)
    try:
        data = FleetData.open(db_url)
    except StoreError as exc:
        click.echo(f"mlposture serve: error: {exc}", err=True)
        sys.exit(2)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"mlposture serve: http://{shown}:{port}/ (read-only{', token required' if token else ''}; "
               "Ctrl-C stops)", err=True)
    try:
        uvicorn.run(create_app(data, token), host=host, port=port, log_level="warning", server_header=False,
                    proxy_headers=False)
    finally:
        data.close()

"""``callqa users add|list|disable`` and ``callqa serve``: typer apps the main command line registers.

A password is read from a hidden prompt (typed twice) or, when stdin is not a
terminal, from its first line; never from an argument, where it would land
in the shell history and the process list. There is no default account.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from qa.errors import CallqaError

users_app = typer.Typer(no_args_is_help=True, help="Workspace accounts: add, list, disable.")
err = Console(stderr=True)
out = Console()
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="database URL", show_default="$CALLQA_DB_URL, else callqa.db in the data dir")]


class Role(str, Enum):
    admin = "admin"
    reviewer = "reviewer"
    lead = "lead"
    agent = "agent"


def _workspace(url: Optional[str]):
    from qa.store.database import Store
    from qa.store.workspace import WorkspaceStore

    return WorkspaceStore(Store.open(url))


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        return typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _fail(exc: CallqaError) -> None:
    err.print(f"[red]{exc}[/red]", highlight=False)
    raise typer.Exit(1)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, . _ @ -)")],
    role: Annotated[Role, typer.Option("--role", help="admin, reviewer, lead or agent")],
    team: Annotated[Optional[list[str]], typer.Option("--team", help="a lead's team (repeat for more)", show_default="none")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent-id", help="an agent's id in the calls' metadata", show_default="none")] = None,
    store: StoreOpt = None,
) -> None:
    """Add a user; the password is asked for (or read from stdin), never given as an argument."""
    from .auth import hash_password

    try:
        ws = _workspace(store)
        password = _read_password(name)
        user = ws.add_user(name, role.value, hash_password(password), teams=team or [], agent_id=agent_id,
                           actor="cli")
    except CallqaError as exc:
        _fail(exc)
    scope = {"lead": f"teams {', '.join(user.teams)}", "agent": f"agent {user.agent_id}"}.get(user.role, "all calls")
    out.print(f"added {user.username} ({user.role}, sees {scope})", highlight=False)


@users_app.command("list")
def users_list(store: StoreOpt = None) -> None:
    """Every user with role, teams, agent id and whether disabled."""
    try:
        users = _workspace(store).list_users()
    except CallqaError as exc:
        _fail(exc)
    table = Table(title="Workspace users")
    for col in ("user", "role", "teams", "agent id", "status", "created (UTC)"):
        table.add_column(col)
    for u in users:
        table.add_row(u.username, u.role, ", ".join(u.teams), u.agent_id or "", "disabled" if u.disabled else "active",
                      u.created_at[:16].replace("T", " "))
    out.print(table)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="user name")], store: StoreOpt = None) -> None:
    """Disable a user: they cannot sign in, and their open sessions stop working at once."""
    try:
        _workspace(store).disable_user(name, actor="cli")
    except CallqaError as exc:
        _fail(exc)
    out.print(f"disabled {name}; their sessions are ended", highlight=False)


def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port")] = 8000,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="mark cookies Secure (behind HTTPS)", show_default="off")] = False,
    audio_root: Annotated[Optional[list[Path]], typer.Option("--audio-root", help="only stream recordings inside this folder (repeatable)", show_default="none: any recording a stored call names")] = None,
) -> None:
    """The reviewer workspace in the browser: calls, scorecards, verdicts, appeals, coaching."""
    import uvicorn

    from .app import create_app

    try:
        app = create_app(store, secure_cookies=secure_cookies, audio_roots=audio_root)
        indexed = app.state.ws.sync_search()
    except CallqaError as exc:
        _fail(exc)
    if not app.state.ws.list_users():
        err.print("no users yet: add one first, e.g. callqa users add ana --role reviewer", highlight=False)
    err.print(f"callqa workspace on http://{host}:{port}/ (store {app.state.ws.store.url}; "
              f"{indexed} call(s) newly indexed for search)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)

"""``ledgerflow users create EMAIL --admin``: creates an admin, or promotes an existing user."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from ledgerflow.books.models import User
from ledgerflow.cli import main
from ledgerflow.server import session_for
from ledgerflow.tenancy import authenticate


def users_create(db_url: str, *args: str, password: str | None = "first-pw") -> tuple[int, str]:
    extra = ["--password", password] if password is not None else []
    answer = CliRunner().invoke(
        main, ["users", "create", "--database-url", db_url, *args, *extra], input="typed-pw\n"
    )
    return answer.exit_code, answer.output


def admin_flag(db_url: str, email: str) -> bool:
    with session_for(db_url) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return bool(user.is_admin)


def test_create_and_promote_admins(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    code, said = users_create(db_url, "ann@example.com")
    assert code == 0 and said.startswith("created user ")
    assert not admin_flag(db_url, "ann@example.com")

    # The same email again, without --admin: refused as before.
    code, said = users_create(db_url, "Ann@Example.com")
    assert code != 0 and "already exists" in said

    # With --admin: promoted; the password given is ignored, and the output says so.
    code, said = users_create(db_url, "Ann@Example.com", "--admin", password="other-pw")
    assert code == 0, said
    assert "ann@example.com" in said and "is now an instance admin" in said
    assert "password was not changed" in said
    assert admin_flag(db_url, "ann@example.com")
    with session_for(db_url) as session:
        assert authenticate(session, "ann@example.com", "first-pw") is not None
        assert authenticate(session, "ann@example.com", "other-pw") is None
    code, said = users_create(db_url, "ann@example.com", "--admin", password=None)
    assert code == 0 and "was already an instance admin" in said

    # A new email with --admin: created as an admin; the password is asked for when not given.
    code, said = users_create(db_url, "ops@example.com", "--admin", password=None)
    assert code == 0 and "created instance admin" in said, said
    assert admin_flag(db_url, "ops@example.com")
    with session_for(db_url) as session:
        assert authenticate(session, "ops@example.com", "typed-pw") is not None

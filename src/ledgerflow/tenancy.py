"""Users, companies and memberships: who may see and do what in which company."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .books.chart import create_company
from .books.models import Company, Membership, User

ROLES = ("owner", "bookkeeper", "viewer")
# Roles that may start, cancel and retry jobs and change the books.
WRITERS = frozenset({"owner", "bookkeeper"})

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login timing the same either way.
_DUMMY_HASH = _hasher.hash("not a real password")


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user and their role in each company they belong to."""

    user_id: str
    email: str
    is_admin: bool
    roles: dict[str, str]

    def role_in(self, company_id: str) -> str | None:
        return self.roles.get(company_id)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, email: str, password: str, *, is_admin: bool = False) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    if len(password) < 4:
        raise ValueError("password must have at least 4 characters")
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise ValueError(f"a user with email {email!r} already exists")
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def add_member(session: Session, company_id: str, email: str, role: str) -> Membership:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise ValueError(f"no user with email {email!r}")
    if session.get(Company, company_id) is None:
        raise ValueError(f"no company {company_id!r}")
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.company_id == company_id)
    ).first()
    if membership is None:
        membership = Membership(user_id=user.id, company_id=company_id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def new_company(
    session: Session, company_id: str | None, name: str, owner_email: str | None = None
) -> Company:
    company = create_company(session, company_id, name)
    if owner_email:
        add_member(session, company.id, owner_email, "owner")
    return company


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def load_principal(session: Session, user_id: str) -> Principal | None:
    user = session.get(User, user_id)
    if user is None:
        return None
    rows = session.execute(
        select(Membership.company_id, Membership.role).where(Membership.user_id == user_id)
    ).all()
    return Principal(user.id, user.email, user.is_admin, {c: r for c, r in rows})

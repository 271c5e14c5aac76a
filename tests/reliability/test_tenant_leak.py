"""No tenant leak: every GET endpoint, called by a user of company B with company A's ids.

Company A (acme) has real data: a completed upload job (transactions, journal entries), a failed
and a pending job, a rule, its chart of accounts and bank account. Carol, owner of company B
(globex) only, then calls every GET operation of the live OpenAPI schema (read from the app, so
new endpoints are covered as they appear) with A's ids in every path parameter: each answer is
404, exactly as for an id that does not exist, and no answer anywhere contains an id of A that
the request did not itself carry. The same runs again with schemathesis generating the query
parameters and headers around A's ids.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select
from sqlalchemy.exc import SAWarning

import ledgerflow.tasks  # noqa: F401  (registers the job handlers)
from ledgerflow import job_types
from ledgerflow.api.app import create_app
from ledgerflow.books.chart import account_by_name
from ledgerflow.books.db import make_engine
from ledgerflow.books.queries import create_rule
from ledgerflow.jobs import JobSettings, JobStatus, Queue
from ledgerflow.server import session_for
from ledgerflow.settings import AppSettings

TESTS = Path(__file__).resolve().parents[1]
BANKS = TESTS / "data" / "banks"
A, B = "acme", "globex"
PATH_PARAM = re.compile(r"{(\w+)}")
_current: dict[str, World] = {}  # the world of this module, for the schemathesis hook


def _load(name: str, path: Path) -> ModuleType:
    """tests/api helpers under their own names (a plain ``import conftest`` is ambiguous)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


api_conftest = _load("api_conftest_for_leaks", TESTS / "api" / "conftest.py")
live = _load("api_live_for_leaks", TESTS / "support" / "live.py")


@dataclass
class World:
    url: str
    carol: dict[str, str]
    ids: dict[str, list[str]]  # table (or "jobs") → ids of company A
    etags: list[str]

    @property
    def every_id(self) -> set[str]:
        return {i for ids in self.ids.values() for i in ids}


def wait_final(queue: Queue, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while not queue.get(job_id).is_final:
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.05)


def company_rows(db_url: str, company_id: str) -> dict[str, list[str]]:
    """Ids of every row of ``company_id`` in every table that has an ``id`` and a company."""
    engine = make_engine(db_url)
    try:
        metadata = MetaData()
        with warnings.catch_warnings():  # expression indexes are not reflected; not needed
            warnings.simplefilter("ignore", SAWarning)
            metadata.reflect(engine)
        found: dict[str, list[str]] = {}
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                if "id" in table.c and "company_id" in table.c:
                    rows = conn.execute(
                        select(table.c.id).where(table.c.company_id == company_id)
                    ).all()
                    if rows:
                        found[table.name] = [str(r[0]) for r in rows]
        return found
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("tenant-leak")
    db_url = f"sqlite:///{tmp / 'leak.db'}"
    api_conftest.seed(db_url)
    settings_: AppSettings = api_conftest.make_settings(db_url, tmp)
    fast = JobSettings(poll_interval=0.05, heartbeat_interval=0.2, worker_timeout=5)
    with Queue(db_url, settings=fast) as queue:
        with queue.worker(concurrency=2):
            jobs = []
            for name in ("chase_checking.csv", "amex.csv"):
                path = tmp / name
                shutil.copy(BANKS / name, path)
                jobs.append(
                    queue.enqueue(
                        job_types.UPLOAD_AND_CATEGORIZE,
                        meta={"company_id": A},
                        concurrency_key=A,
                        company_id=A,
                        file_path=str(path),
                        file_name=name,
                    )
                )
            broken = tmp / "broken.csv"
            broken.write_text("Date,Description,Amount\n2024-01-01,COFFEE,abc\n")
            jobs.append(
                queue.enqueue(
                    job_types.UPLOAD_AND_CATEGORIZE,
                    meta={"company_id": A},
                    company_id=A,
                    file_path=str(broken),
                    file_name="broken.csv",
                )
            )
            for job in jobs:
                wait_final(queue, job.id)
        assert queue.get(jobs[0].id).status is JobStatus.COMPLETE
        pending = queue.enqueue(
            job_types.CATEGORIZE, meta={"company_id": A}, delay=3600, company_id=A, limit=10
        )
        a_jobs = [*(j.id for j in jobs), pending.id]
        etags = [f'"{j.id}.{j.revision}"' for j in (queue.get(i) for i in a_jobs)]
    with session_for(db_url) as session:
        meals = account_by_name(session, A, "Meals")
        assert meals is not None
        create_rule(
            session, A, "Coffee", [{"field": "description", "op": "contains", "value": "x"}],
            meals.id,
        )  # fmt: skip
    ids = company_rows(db_url, A)
    ids["jobs"] = a_jobs
    assert ids.get("lf_transactions") and ids.get("lf_rules") and ids.get("lf_journal_entries")
    with live.serve(create_app(settings_)) as url:
        token = httpx.post(
            f"{url}/api/auth/token",
            data={"username": "carol@globex.test", "password": "secret-pw"},
        ).json()["access_token"]
        built = World(url, {"Authorization": f"Bearer {token}"}, ids, etags)
        _current["world"] = built  # for the schemathesis hook, before it generates anything
        yield built
        _current.clear()


def candidates(world: World, parameter: str) -> list[str]:
    """Company A's values for a path parameter, by its name; every kind of id if unknown."""
    by_name = {
        "company_id": [A],
        "job_id": world.ids["jobs"],
        "transaction_id": world.ids["lf_transactions"][:3],
        "rule_id": world.ids["lf_rules"],
        "receipt_id": world.ids.get("lf_receipts", []),
        "account_id": world.ids.get("lf_accounts", [])[:3],
        "bank_account_id": world.ids.get("lf_bank_accounts", []),
        "entry_id": world.ids.get("lf_journal_entries", [])[:3],
    }
    known = by_name.get(parameter)
    if known:
        return known
    return [ids[0] for ids in world.ids.values()] + [A]  # one of every kind


def get_operations() -> list[tuple[str, list[str]]]:
    schema = create_app(api_conftest.make_settings("sqlite:///unused.db", Path("unused"))).openapi()
    return [
        (path, PATH_PARAM.findall(path)) for path, ops in schema["paths"].items() if "get" in ops
    ]


def leaked(world: World, request_text: str, body: str) -> set[str]:
    """A's ids in ``body`` that the request did not carry itself."""
    return {i for i in world.every_id | {f"{A}@", "alice@acme.test"} if i in body} - {
        i for i in world.every_id if i in request_text
    }


def check(world: World, client: httpx.Client, path: str, **headers: str) -> httpx.Response:
    response = client.get(world.url + path, headers={**world.carol, **headers}, timeout=30)
    request_text = path + " " + " ".join(headers.values())
    assert not leaked(world, request_text, response.text), (path, response.text[:500])
    return response


@pytest.mark.parametrize(("path", "parameters"), get_operations())
def test_foreign_ids_answer_404_and_leak_nothing(
    world: World, path: str, parameters: list[str]
) -> None:
    with httpx.Client() as client:
        if not parameters:
            response = check(world, client, path)
            assert response.status_code < 500, response.text[:500]
            return
        choices = [candidates(world, name) for name in parameters]
        for values in itertools.product(*choices):
            concrete = path
            for name, value in zip(parameters, values, strict=True):
                concrete = concrete.replace("{" + name + "}", value)
            variants: list[dict[str, str]] = [{}]
            if "job_id" in parameters:
                variants += [{"If-None-Match": tag} for tag in world.etags]
                variants.append({"Last-Event-ID": "1"})
            for headers in variants:
                response = check(world, client, concrete, **headers)
                assert response.status_code == 404, (concrete, headers, response.text[:300])


def test_own_company_still_works(world: World) -> None:
    """The control: carol reads her own company; acme answers 404 like a company that isn't."""
    with httpx.Client() as client:
        assert check(world, client, f"/api/companies/{B}/accounts").status_code == 200
        missing = check(world, client, "/api/companies/no-such-company/accounts")
        foreign = check(world, client, f"/api/companies/{A}/accounts")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()
        companies = check(world, client, "/api/companies").json()
        assert [c["id"] for c in companies] == [B]


# --- the same through schemathesis: generated query strings and headers around A's ids -------
schema = schemathesis.openapi.from_dict(
    create_app(api_conftest.make_settings("sqlite:///unused.db", Path("unused"))).openapi()
).include(method="GET")


@schema.hook("flatmap_path_parameters")
def _foreign_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    world = _current.get("world")
    if world is None or not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {name: st.sampled_from(candidates(world, name)) for name in path_parameters}
    )


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_schemathesis_foreign_ids(case: Any, world: World) -> None:
    headers = {**(case.headers or {}), **world.carol}
    response = case.call(base_url=world.url, headers=headers, timeout=30)
    request_text = f"{case.formatted_path} {case.path_parameters} {case.query} {case.headers}"
    assert not leaked(world, request_text, response.text), (case.path, response.text[:500])
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if case.path_parameters and any(
        v in world.every_id or v == A for v in case.path_parameters.values()
    ):
        # 422 only for a query string the schema refuses, whoever's the id: no oracle there.
        assert response.status_code in (404, 422), (case.path, response.status_code)

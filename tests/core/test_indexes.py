"""Issue 7: every list filter and the scoping predicate have an index; a community's
list never scans the whole retiree table (EXPLAIN on every statement of the page)."""
import pytest
from sqlalchemy import event, text

from core.testing import PASSWORD


@pytest.fixture
def crowded(app):
    """Enough people for the planner to prefer indexes (demo generator, bulk insert)."""
    from core.demo import insert_retirees
    from core.extensions import db

    with app.app_context():
        insert_retirees(20000, seed=3)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as con:
                con.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    return app


def _statements(app, client, url):
    from core.extensions import db

    seen = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        if "retiree" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return engine, seen


def _plan(engine, statement, parameters) -> str:
    with engine.connect() as con:
        raw = con.connection.driver_connection
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            cur.execute("EXPLAIN " + statement, parameters)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row) for row in cur.fetchall())


@pytest.mark.parametrize("url", [
    "/retiree/list/",
    "/retiree/list/?_flt_0_category=enterprise",
    "/api/v1/retiree/?q=(page_size:20)",
])
def test_community_list_does_not_scan_whole_retiree_table(crowded, url):
    from core.commands import create_user

    app = crowded
    with app.app_context():
        create_user("busy_clerk", PASSWORD, "community_staff", "320502001001", temporary=False)
    client = app.test_client()
    client.post("/login/", data={"username": "busy_clerk", "password": PASSWORD})
    engine, statements = _statements(app, client, url)
    assert statements, "the page ran no query on retiree"
    for statement, parameters in statements:
        plan = _plan(engine, statement, parameters)
        if engine.dialect.name == "postgresql":
            assert "Seq Scan on retiree" not in plan, f"{statement}\n{plan}"
        else:
            assert "SCAN retiree" not in plan.replace("SCAN retiree USING", "x"), \
                f"{statement}\n{plan}"

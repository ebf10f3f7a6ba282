"""Listing: filters, sort orders with stable ties, pagination headers, parameter errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bench.delay import DelayProxy
from sqlalchemy.engine import make_url

from tests.conftest import serving
from tests.tasks.conftest import TaskApi


async def _seed(api: TaskApi) -> list[dict[str, Any]]:
    specs = [("banana", "pending"), ("apple", "completed"), ("cherry", "in_progress"), ("apple", "pending")]
    return [await api.create("alice", title=title, status=status) for title, status in specs]


async def test_default_order_is_newest_first(api: TaskApi) -> None:
    tasks = await _seed(api)

    listed = (await api.list("alice")).json()

    assert [task["id"] for task in listed] == [task["id"] for task in reversed(tasks)]


@pytest.mark.parametrize("status", ["pending", "in_progress", "completed"])
async def test_status_filter(api: TaskApi, status: str) -> None:
    tasks = await _seed(api)

    response = await api.list("alice", status=status)

    expected = {task["id"] for task in tasks if task["status"] == status}
    assert {task["id"] for task in response.json()} == expected
    assert response.headers["x-total-count"] == str(len(expected))


async def test_status_all_lists_everything(api: TaskApi) -> None:
    tasks = await _seed(api)

    response = await api.list("alice", status="all")

    assert len(response.json()) == len(tasks)


@pytest.mark.parametrize("key", ["created_at", "updated_at", "title", "status"])
@pytest.mark.parametrize("descending", [False, True])
async def test_sort_orders_with_ties_broken_by_id(api: TaskApi, key: str, descending: bool) -> None:
    tasks = await _seed(api)
    # Make updated_at order differ from created_at order.
    await api.call("PATCH", "alice", tasks[0]["id"], json={"description": "touched"})
    current = {task["id"]: task for task in (await api.list("alice")).json()}

    response = await api.list("alice", sort=f"-{key}" if descending else key)

    expected = sorted(current.values(), key=lambda task: (task[key], task["id"]), reverse=descending)
    assert [task["id"] for task in response.json()] == [task["id"] for task in expected]


@pytest.mark.parametrize("key", ["title", "status"])
@pytest.mark.parametrize("descending", [False, True])
async def test_pages_split_ties_by_id_so_every_task_is_listed_once(
    api: TaskApi, key: str, descending: bool
) -> None:
    # Every task has the same title and status: which of them fill a page is decided by the
    # tie-break alone, and it must be the same one on every page's query.
    created = [await api.create("alice", title="same", status="pending") for _ in range(30)]

    sort = f"-{key}" if descending else key
    pages = [
        (await api.list("alice", sort=sort, limit=7, offset=offset)).json() for offset in range(0, 30, 7)
    ]

    listed = [task["id"] for page in pages for task in page]
    assert listed == sorted((task["id"] for task in created), reverse=descending)


async def test_pagination_headers_and_next_link(api: TaskApi) -> None:
    tasks = [await api.create("alice", title=f"t{i}") for i in range(5)]
    newest_first = [task["id"] for task in reversed(tasks)]

    first = await api.list("alice", limit=2)
    second = await api.client.get(_link_target(first.headers["link"]), headers=api.auth("alice"))
    last = await api.list("alice", limit=2, offset=4)

    assert [task["id"] for task in first.json()] == newest_first[:2]
    assert first.headers["x-total-count"] == "5"
    assert [task["id"] for task in second.json()] == newest_first[2:4]
    assert "link" in second.headers
    assert [task["id"] for task in last.json()] == newest_first[4:]
    assert "link" not in last.headers
    assert last.headers["x-total-count"] == "5"


async def test_next_link_keeps_the_filter_and_sort(api: TaskApi) -> None:
    for i in range(3):
        await api.create("alice", title=f"t{i}")

    response = await api.list("alice", limit=1, status="pending", sort="title")

    target = _link_target(response.headers["link"])
    assert "status=pending" in target
    assert "sort=title" in target
    assert "offset=1" in target
    assert response.headers["link"].endswith('; rel="next"')


async def test_offset_past_the_end_is_empty_with_the_true_total(api: TaskApi) -> None:
    await _seed(api)

    response = await api.list("alice", offset=100)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "4"


async def test_full_page_still_reports_the_total(api: TaskApi) -> None:
    await _seed(api)

    response = await api.list("alice", limit=4)

    assert response.headers["x-total-count"] == "4"
    assert "link" not in response.headers


@pytest.mark.parametrize(
    ("status", "offset"),
    [
        # A full page: its total is counted in the page's statement.
        ("pending", 0),
        ("all", 0),
        ("all", 2),
        # Past the last page (the first offset with nothing left included): counted apart.
        ("completed", 1),
        ("pending", 2),
        ("all", 4),
        ("in_progress", 100),
    ],
)
async def test_a_counted_total_is_of_the_callers_tasks_in_the_filter(
    api: TaskApi, status: str, offset: int
) -> None:
    tasks = await _seed(api)
    for bobs_status in ("pending", "completed", "in_progress", "pending"):
        await api.create("bob", status=bobs_status)

    response = await api.list("alice", status=status, limit=1, offset=offset)

    matching = [task for task in reversed(tasks) if status in ("all", task["status"])]
    assert response.status_code == 200
    assert response.json() == matching[offset : offset + 1]
    assert response.headers["x-total-count"] == str(len(matching))


async def test_a_page_costs_one_round_trip_and_only_an_empty_one_past_the_end_two(
    postgres_url: str, auth: Callable[[str], dict[str, str]]
) -> None:
    url = make_url(postgres_url)
    proxy = DelayProxy(url.host or "127.0.0.1", url.port or 5432, rtt_ms=0)
    proxy.start()
    try:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        # Pool size 1: each statement is prepared on the one connection before it is counted.
        async with serving(through_proxy, db_pool_size=1, db_max_overflow=0) as client:
            headers = auth("alice")
            for _ in range(3):
                await client.post("/api/tasks", json={"title": "t"}, headers=headers)
            # Pages of three tasks (medium, no due date), newest first unless the query says.
            every_filter = (
                "status=pending&completed=false&priority=medium,high&priority=low&has_due_date=false"
                "&overdue=false&sort_by=due_date&order=desc"
            )
            pages = {
                "a short page further on": "limit=2&offset=2",
                "a full page further on": "limit=1&offset=1",
                "past the end": "limit=1&offset=3",
                "a full page with every filter": f"{every_filter}&limit=2&offset=1",
                "a first page of a due date range": "due_date_from=2026-12-01&due_before=2026-12-31T17:00Z",
            }

            async def listed(query: str) -> tuple[int, str]:
                response = await client.get(f"/api/tasks?{query}", headers=headers)
                return len(response.json()), response.headers["x-total-count"]

            for query in pages.values():
                await listed(query)
            measured = {}
            for name, query in pages.items():
                before = proxy.round_trips
                answer = await listed(query)
                measured[name] = (*answer, proxy.round_trips - before)
    finally:
        proxy.stop()

    assert measured == {
        "a short page further on": (1, "3", 1),
        "a full page further on": (1, "3", 1),
        "past the end": (0, "3", 2),
        "a full page with every filter": (2, "3", 1),
        "a first page of a due date range": (0, "0", 1),
    }


async def test_empty_list_is_an_empty_array(api: TaskApi) -> None:
    response = await api.list("alice")

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"status": "done"}, ["all", "pending", "in_progress", "completed"]),
        ({"sort": "rank"}, ["created_at", "updated_at", "title", "status", "priority", "due_date", "-"]),
        ({"sort_by": "-rank"}, ["sort"]),
        ({"sort_order": "up"}, ["asc", "desc"]),
        ({"order": "down"}, ["sort_order"]),
        ({"completed": "maybe"}, ["true", "false"]),
        ({"overdue": "soon"}, ["true", "false"]),
        ({"has_due_date": "2"}, ["true", "false"]),
        ({"priority": "highest"}, ["low", "medium", "high", "urgent", "comma-separated"]),
        ({"priority": "high,,hihg"}, ["low", "medium", "high", "urgent"]),
        ({"due_date_from": "tomorrow"}, ["2026-12-31", "RFC 3339"]),
        ({"due_after": "2026-02-30"}, ["2026-12-31", "RFC 3339"]),
        ({"due_date_to": "31/12/2026"}, ["2026-12-31"]),
        ({"due_before": "2026-12-31T25:00"}, ["2026-12-31"]),
        ({"limit": "0"}, ["1", "1000"]),
        ({"limit": "1001"}, ["1", "1000"]),
        ({"limit": "ten"}, ["1", "1000"]),
        ({"offset": "-1"}, ["0"]),
        ({"offset": "x"}, ["0"]),
        ({"offset": str(10**30)}, ["0", "2147483647"]),
    ],
)
async def test_invalid_list_parameters_are_400_naming_the_allowed_values(
    api: TaskApi, params: dict[str, str], mentions: list[str]
) -> None:
    response = await api.list("alice", **params)

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    name = next(iter(params))
    assert f"'{name}'" in detail
    for allowed in mentions:
        assert allowed in detail


def _link_target(link: str) -> str:
    return link.split(";", maxsplit=1)[0].strip().removeprefix("<").removesuffix(">")


@pytest.mark.parametrize(
    ("offset", "limit", "next_offset"), [(0, 3, 3), (1, 2, 3), (2, 2, None), (3, 1, None), (0, 4, None)]
)
async def test_next_link_stops_exactly_where_the_tasks_end(
    api: TaskApi, offset: int, limit: int, next_offset: int | None
) -> None:
    await _seed(api)  # four tasks

    response = await api.list("alice", offset=offset, limit=limit)

    assert response.headers["x-total-count"] == "4"
    if next_offset is None:
        assert "link" not in response.headers
    else:
        assert f"offset={next_offset}" in _link_target(response.headers["link"])

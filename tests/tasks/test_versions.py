"""Lost updates: every task response has an ETag, and If-Match turns a stale write into 412."""

from __future__ import annotations

import pytest

from tests.tasks.conftest import TaskApi


async def test_every_single_task_response_has_an_etag_that_changes_on_write(api: TaskApi) -> None:
    created = await api.call("POST", "alice", json={"title": "x"})
    task_id = created.json()["id"]
    fetched = await api.get("alice", task_id)
    updated = await api.call("PATCH", "alice", task_id, json={"title": "y"})
    toggled = await api.call("PATCH", "alice", task_id, "/complete")

    tags = [r.headers["etag"] for r in (created, fetched, updated, toggled)]
    assert tags[0] == tags[1]
    assert len({tags[1], tags[2], tags[3]}) == 3
    assert all(tag.startswith('"') and tag.endswith('"') for tag in tags)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "", {"title": "late"}),
        ("PATCH", "", {"title": "late"}),
        ("PATCH", "/complete", None),
        ("DELETE", "", None),
    ],
)
async def test_stale_if_match_is_412_and_changes_nothing(
    api: TaskApi, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    created = await api.call("POST", "alice", json={"title": "x"})
    stale = created.headers["etag"]
    task_id = created.json()["id"]
    current = (await api.call("PATCH", "alice", task_id, json={"title": "current"})).json()

    response = await api.call(method, "alice", task_id, suffix, json=body, headers={"If-Match": stale})

    assert response.status_code == 412
    assert "detail" in response.json()
    assert (await api.get("alice", task_id)).json() == current


async def test_matching_if_match_writes(api: TaskApi) -> None:
    created = await api.call("POST", "alice", json={"title": "x"})
    task_id = created.json()["id"]

    response = await api.call(
        "PUT", "alice", task_id, json={"title": "y"}, headers={"If-Match": created.headers["etag"]}
    )
    star = await api.call("PATCH", "alice", task_id, "/complete", headers={"If-Match": "*"})
    listed = await api.call(
        "PATCH",
        "alice",
        task_id,
        json={"title": "z"},
        headers={"If-Match": f'"nope", {star.headers["etag"]}'},
    )

    assert response.status_code == 200
    assert star.status_code == 200
    assert listed.status_code == 200


async def test_weak_or_foreign_etags_never_match(api: TaskApi) -> None:
    first = await api.call("POST", "alice", json={"title": "x"})
    second = await api.call("POST", "alice", json={"title": "y"})
    task_id = first.json()["id"]

    weak = await api.call(
        "PATCH", "alice", task_id, json={"title": "w"}, headers={"If-Match": f"W/{first.headers['etag']}"}
    )
    foreign = await api.call(
        "PATCH", "alice", task_id, json={"title": "f"}, headers={"If-Match": second.headers["etag"]}
    )
    garbage = await api.call("PATCH", "alice", task_id, json={"title": "g"}, headers={"If-Match": '"1-abc"'})

    assert [weak.status_code, foreign.status_code, garbage.status_code] == [412, 412, 412]


async def test_if_match_on_someone_elses_task_is_still_404(api: TaskApi) -> None:
    created = await api.call("POST", "alice", json={"title": "x"})

    response = await api.call(
        "PATCH",
        "bob",
        created.json()["id"],
        json={"title": "y"},
        headers={"If-Match": created.headers["etag"]},
    )

    assert response.status_code == 404


async def test_two_writers_with_if_match_never_lose_an_update(api: TaskApi) -> None:
    created = await api.call("POST", "alice", json={"title": "start", "description": ""})
    task_id = created.json()["id"]
    tag = created.headers["etag"]

    # Both writers read the same version, then write; the second must be told, not silently win.
    first = await api.call(
        "PATCH", "alice", task_id, json={"description": "writer one"}, headers={"If-Match": tag}
    )
    second = await api.call(
        "PATCH", "alice", task_id, json={"description": "writer two"}, headers={"If-Match": tag}
    )
    retried_tag = (await api.get("alice", task_id)).headers["etag"]
    retry = await api.call(
        "PATCH",
        "alice",
        task_id,
        json={"description": "writer one + writer two"},
        headers={"If-Match": retried_tag},
    )

    assert first.status_code == 200
    assert second.status_code == 412
    assert retry.status_code == 200
    assert (await api.get("alice", task_id)).json()["description"] == "writer one + writer two"

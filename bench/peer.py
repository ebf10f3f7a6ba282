"""The typical peer: the task API as a FastAPI + SQLModel tutorial would write it.

Sync routes and sessions (run in FastAPI's thread pool), SQLAlchemy's pool with
`pool_pre_ping=True`, an ORM object loaded before it is changed, and the quota counted before
the insert in the same session. It keeps the checks that matter to a client (HS256 with `exp`
and `sub`, owner-scoped queries, 404 for another user's task, title validation, the quota,
X-Total-Count, Location), so the latency workload compares designs, not contracts.
Run: `python -m bench.peer --port 8002` with DATABASE_URL and BETTER_AUTH_SECRET set.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import jwt
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import create_engine, func
from sqlmodel import Session, select

from todo_api.models import Task

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TaskCreate(BaseModel):
    title: Title
    description: str | None = Field(default=None, max_length=10_000)
    completed: bool = False


class TaskUpdate(BaseModel):
    title: Title | None = None
    description: str | None = Field(default=None, max_length=10_000)
    completed: bool | None = None


class TaskPublic(BaseModel):
    id: int
    user_id: str
    title: str
    description: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    completed: bool


def public(task: Task) -> TaskPublic:
    return TaskPublic(**task.model_dump(), completed=task.status == "completed")


url = os.environ.get("DATABASE_URL", "").replace("postgresql://", "postgresql+psycopg://", 1)
engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10) if url else None
SECRET = os.environ.get("BETTER_AUTH_SECRET", "")
MAX_TASKS = int(os.environ.get("MAX_TASKS_PER_USER", "10000"))
app = FastAPI()


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def current_user(authorization: Annotated[str, Header()] = "") -> str:
    scheme, _, token = authorization.partition(" ")
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        raise HTTPException(401, "Invalid token", {"WWW-Authenticate": "Bearer"}) from None
    if scheme.lower() != "bearer" or not isinstance(claims["sub"], str):
        raise HTTPException(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
    return claims["sub"]


SessionDep = Annotated[Session, Depends(get_session)]
UserDep = Annotated[str, Depends(current_user)]


def owned(session: Session, user: str, task_id: int) -> Task:
    task = session.exec(select(Task).where(Task.id == task_id, Task.user_id == user)).first()
    if task is None:
        raise HTTPException(404, "Task not found")
    return task


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/tasks", response_model=list[TaskPublic])
def list_tasks(
    *,
    request: Request,
    session: SessionDep,
    user: UserDep,
    response: Response,
    limit: int = 100,
    offset: int = 0,
) -> list[TaskPublic]:
    query = select(Task).where(Task.user_id == user).order_by(Task.created_at.desc(), Task.id.desc())  # type: ignore[union-attr]
    tasks = session.exec(query.limit(limit).offset(offset)).all()
    total = session.exec(select(func.count()).select_from(Task).where(Task.user_id == user)).one()
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        response.headers["Link"] = f'<{request.url.include_query_params(offset=offset + limit)}>; rel="next"'
    return [public(task) for task in tasks]


@app.post("/api/tasks", status_code=201, response_model=TaskPublic)
def create_task(body: TaskCreate, session: SessionDep, user: UserDep, response: Response) -> TaskPublic:
    used = session.exec(select(func.count()).select_from(Task).where(Task.user_id == user)).one()
    if used >= MAX_TASKS:
        raise HTTPException(409, f"Task limit reached: a user may keep at most {MAX_TASKS} tasks")
    now = datetime.now(UTC)
    status = "completed" if body.completed else "pending"
    task = Task(
        user_id=user,
        title=body.title,
        description=body.description,
        status=status,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.commit()
    session.refresh(task)
    response.headers["Location"] = f"/api/tasks/{task.id}"
    return public(task)


@app.get("/api/tasks/{task_id}", response_model=TaskPublic)
def get_task(task_id: int, session: SessionDep, user: UserDep) -> TaskPublic:
    return public(owned(session, user, task_id))


def apply(session: Session, task: Task, changes: TaskUpdate) -> TaskPublic:
    for field in changes.model_fields_set & {"title", "description"}:
        setattr(task, field, getattr(changes, field))
    if changes.completed is not None:
        task.status = "completed" if changes.completed else "pending"
    task.updated_at = datetime.now(UTC)
    session.add(task)
    session.commit()
    session.refresh(task)
    return public(task)


@app.put("/api/tasks/{task_id}", response_model=TaskPublic)
@app.patch("/api/tasks/{task_id}", response_model=TaskPublic)
def update_task(task_id: int, body: TaskUpdate, session: SessionDep, user: UserDep) -> TaskPublic:
    return apply(session, owned(session, user, task_id), body)


@app.patch("/api/tasks/{task_id}/complete", response_model=TaskPublic)
def toggle_task(task_id: int, session: SessionDep, user: UserDep) -> TaskPublic:
    task = owned(session, user, task_id)
    return apply(session, task, TaskUpdate(completed=task.status != "completed"))


@app.delete("/api/tasks/{task_id}", status_code=204)
def delete_task(task_id: int, session: SessionDep, user: UserDep) -> None:
    session.delete(owned(session, user, task_id))
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    uvicorn.run("bench.peer:app", host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

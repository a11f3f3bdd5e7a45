"""Tasks assigned in leaders' conclusion notices (feed `directive_tasks`), with planted slips and near deadlines."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from simulator.clock import at, random_office_moment
from simulator.org_units import OrgUnits
from simulator.vocabulary import DOCUMENT_KINDS, LEADERS, TASK_TEXTS

TASK_COUNT = 80
DOCUMENT_COUNT = 12
HISTORY_DAYS = 270
DUE_AFTER_DAYS = (14, 21, 30, 45, 60, 90, 120)
PLANTED = {"overdue": 5, "done_late": 4, "due_soon": 4}


def build_tasks(rng: random.Random, units: OrgUnits, now: datetime) -> tuple[list[dict], dict[str, list[str]]]:
    """The task tracker's tasks as they stand at `now`, and the ids of overdue, late and soon-due ones."""
    today = now.date()
    documents = sorted(
        (
            today - timedelta(days=rng.randint(10, HISTORY_DAYS)),
            rng.choice(DOCUMENT_KINDS).format(number=rng.randint(100, 399)),
            rng.choice(LEADERS),
        )
        for _ in range(DOCUMENT_COUNT)
    )
    assignments = sorted((rng.choice(documents), rng.choice(TASK_TEXTS)) for _ in range(TASK_COUNT))
    tasks = []
    numbers: dict[int, int] = {}
    for (assigned_on, source_document, leader), (title, leads) in assignments:
        numbers[assigned_on.year] = numbers.get(assigned_on.year, 0) + 1
        leads_active = units.active_codes(assigned_on, leads)
        assignees = leads_active or [u.code for u in units.active(assigned_on, ("department",))]
        task = {
            "task_id": f"NV-{assigned_on.year}-{numbers[assigned_on.year]:03d}",
            "source_document": source_document,
            "assigned_by": leader,
            "assignee_code": rng.choice(assignees),
            "title": title,
            "assigned_on": assigned_on,
            "due_on": assigned_on + timedelta(days=rng.choice(DUE_AFTER_DAYS)),
        }
        tasks.append(task | _state(rng, task["assigned_on"], task["due_on"], now))
    _plant(rng, tasks, now)
    return tasks, task_slips(tasks, today)


def _state(rng: random.Random, assigned_on: date, due_on: date, now: datetime) -> dict:
    """Status, done_on and updated_at of a task at `now`."""
    today = now.date()
    if due_on < today:
        status = rng.choices(("done", "done_late", "in_progress", "cancelled"), weights=(86, 6, 4, 4))[0]
    else:
        status = rng.choices(("done", "in_progress", "not_started"), weights=(20, 60, 20))[0]
    if status == "done":
        days_taken = round((min(due_on, today) - assigned_on).days * rng.uniform(0.3, 1.0))
        return _done(rng, assigned_on + timedelta(days=days_taken), now)
    if status == "done_late":
        return _done(rng, min(due_on + timedelta(days=rng.randint(2, 20)), today), now)
    if status == "not_started":
        return {"status": status, "done_on": None, "updated_at": at(assigned_on, 9)}
    return {"status": status, "done_on": None, "updated_at": random_office_moment(rng, at(assigned_on, 9), now)}


def _done(rng: random.Random, done_on: date, now: datetime) -> dict:
    updated_at = min(random_office_moment(rng, at(done_on), at(done_on, 23)), now)
    return {"status": "done", "done_on": done_on, "updated_at": updated_at}


def _plant(rng: random.Random, tasks: list[dict], now: datetime) -> None:
    """Force a few overdue tasks, tasks done late and open tasks due within 7 days."""
    today = now.date()
    old_enough = [t for t in tasks if t["assigned_on"] <= today - timedelta(days=60)]
    picked = rng.sample(old_enough, sum(PLANTED.values()))
    overdue, done_late, due_soon = (
        picked[: PLANTED["overdue"]],
        picked[PLANTED["overdue"]: PLANTED["overdue"] + PLANTED["done_late"]],
        picked[PLANTED["overdue"] + PLANTED["done_late"]:],
    )
    for task in overdue:
        task.update(due_on=today - timedelta(days=rng.randint(3, 40)), status="in_progress", done_on=None,
                    updated_at=random_office_moment(rng, at(task["assigned_on"], 9), now))
    for task in done_late:
        task["due_on"] = today - timedelta(days=rng.randint(25, 50))
        task.update(_done(rng, task["due_on"] + timedelta(days=rng.randint(2, 15)), now))
    for task in due_soon:
        task.update(due_on=today + timedelta(days=rng.randint(0, 7)), status="in_progress", done_on=None,
                    updated_at=random_office_moment(rng, at(task["assigned_on"], 9), now))


def task_slips(tasks: list[dict], today: date) -> dict[str, list[str]]:
    """Ids of tasks overdue, done after their due date, and open and due within 7 days, as of `today`."""
    open_statuses = ("not_started", "in_progress")
    return {
        "overdue": [t["task_id"] for t in tasks if t["status"] in open_statuses and t["due_on"] < today],
        "done_late": [t["task_id"] for t in tasks if t["status"] == "done" and t["done_on"] > t["due_on"]],
        "due_soon": [t["task_id"] for t in tasks
                     if t["status"] in open_statuses and today <= t["due_on"] <= today + timedelta(days=7)],
    }

"""Shared heavy work taken in turns: upload checks (a bounded line, 503 past its wait) and
strength-preview renders (one slot per person, freed slots to people in the order they
came). No durations are asserted: the tests wait for states with deadlines."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import anyio
import pytest
from fastapi.testclient import TestClient

from app.refusals import Refused
from app.web.services.check_queue import CheckQueue
from app.web.services.render_slots import FairRenderSlots, RenderRefused
from tests.support.waiting import wait_until
from tests.web.conftest import job_count, stored_files, submit, wait_for
from tests.web.test_me import another_browser, owner_of


def until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    wait_until(what, condition, timeout_s, every_s=0.01)


async def until_async(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


# ----------------------------------------------------------------------------- upload checks
def test_upload_checks_run_two_at_a_time_first_come_first_served() -> None:
    async def scenario() -> None:
        queue = CheckQueue(2, wait_s=60)
        started: list[str] = []
        done = {name: asyncio.Event() for name in "abcde"}

        async def check(name: str) -> None:
            async with queue.turn():
                started.append(name)
                await done[name].wait()

        tasks = [asyncio.create_task(check(name)) for name in "abcde"]
        await until_async(lambda: queue.waiting == 3)
        assert started == ["a", "b"] and queue.running == 2
        tasks[3].cancel()                        # "d" leaves the line (its client went away)
        await until_async(lambda: queue.waiting == 2)
        done["b"].set()
        await until_async(lambda: len(started) == 3)
        assert started[2] == "c" and queue.running == 2
        done["a"].set()
        await until_async(lambda: len(started) == 4)
        assert started == ["a", "b", "c", "e"] and queue.waiting == 0
        done["c"].set()
        done["e"].set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert queue.running == 0
    asyncio.run(scenario())


def test_an_upload_that_waits_too_long_is_503_with_retry_after() -> None:
    async def scenario() -> None:
        queue = CheckQueue(1, wait_s=0.2)
        async with queue.turn():
            with pytest.raises(Refused) as refused:
                async with queue.turn():
                    pytest.fail("a second turn while the only one is held")
        assert refused.value.status_code == 503
        assert refused.value.headers and int(refused.value.headers["Retry-After"]) > 0
        assert "busy checking other uploads" in str(refused.value)
        assert queue.running == 0 and queue.waiting == 0
        async with queue.turn():                 # nothing left stuck
            assert queue.running == 1
    asyncio.run(scenario())


def test_a_queued_upload_past_its_wait_keeps_nothing_and_can_be_sent_again(
        make_settings: Callable[..., Any]) -> None:
    from app.web.main import create_app

    app = create_app(make_settings(run_worker=False, upload_checks=1,
                                   upload_check_wait_seconds=0.5))
    with TestClient(app) as client:
        release = threading.Event()

        async def hold_the_only_turn() -> None:
            async with app.state.upload_checks.turn():
                await anyio.to_thread.run_sync(release.wait)

        held = client.portal.start_task_soon(hold_the_only_turn)
        until(lambda: app.state.upload_checks.running == 1, "the turn to be held")
        before = (job_count(client), stored_files(client))
        refused = submit(client)
        page = client.post("/create", files=[("content", ("p.png", b"x", "image/png"))],
                           data={"engine": "microast", "size": "96"})
        release.set()
        held.result(timeout=30)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert "busy checking other uploads" in refused.json()["detail"]
        assert page.status_code == 503 and "busy checking other uploads" in page.text
        assert (job_count(client), stored_files(client)) == before
        assert submit(client).status_code == 201


# ----------------------------------------------------------------------------- render slots
class Render:
    """One preview request in a thread: takes ``owner``'s turn and holds it until
    :meth:`finish`; ``refused`` says why it got none."""

    def __init__(self, slots: FairRenderSlots, owner: str) -> None:
        self.inside, self.leave = threading.Event(), threading.Event()
        self.refused: RenderRefused | None = None
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(slots, owner))
        self._thread.start()

    def _run(self, slots: FairRenderSlots, owner: str) -> None:
        try:
            with slots.turn(owner):
                self.inside.set()
                self.leave.wait(30)
        except RenderRefused as refused:
            self.refused = refused
        finally:
            self.ended.set()

    def finish(self) -> None:
        self.leave.set()
        self._thread.join(30)


def test_one_person_holds_one_render_slot_and_others_get_the_rest() -> None:
    slots = FairRenderSlots(slots=2, wait_s=30)
    first = Render(slots, "ann")
    until(first.inside.is_set, "ann's first render")
    second = Render(slots, "ann")                      # dragging on: waits for her first
    until(lambda: slots.waiting == ("ann",), "ann's second request to wait")
    bob = Render(slots, "bob")
    until(bob.inside.is_set, "bob's render")          # the other slot was bob's to take
    assert not second.inside.is_set() and slots.running == {"ann", "bob"}
    first.finish()
    until(second.inside.is_set, "ann's second render")
    second.finish()
    bob.finish()
    assert first.refused is second.refused is bob.refused is None


def test_freed_slots_go_to_people_in_the_order_they_came() -> None:
    slots = FairRenderSlots(slots=1, wait_s=30)
    ann = Render(slots, "ann")
    until(ann.inside.is_set, "ann's render")
    bob = Render(slots, "bob")
    until(lambda: slots.waiting == ("bob",), "bob in line")
    cy = Render(slots, "cy")
    until(lambda: slots.waiting == ("bob", "cy"), "cy in line")
    ann_again = Render(slots, "ann")
    until(lambda: slots.waiting == ("bob", "cy", "ann"), "ann in line again")
    ann.finish()
    until(bob.inside.is_set, "bob's turn")
    assert not cy.inside.is_set() and not ann_again.inside.is_set()
    bob.finish()
    until(cy.inside.is_set, "cy's turn")
    assert not ann_again.inside.is_set()
    cy.finish()
    until(ann_again.inside.is_set, "ann's next turn")
    ann_again.finish()


def test_a_newer_request_replaces_the_same_persons_waiting_one() -> None:
    slots = FairRenderSlots(slots=1, wait_s=30)
    bob = Render(slots, "bob")
    until(bob.inside.is_set, "bob's render")
    older = Render(slots, "ann")
    until(lambda: slots.waiting == ("ann",), "ann in line")
    newer = Render(slots, "ann")
    until(older.ended.is_set, "the older request to be answered")
    assert older.refused is not None and older.refused.replaced
    assert slots.waiting == ("ann",)                  # one place in line, still hers
    bob.finish()
    until(newer.inside.is_set, "the newer request's turn")
    newer.finish()


def test_a_full_line_or_a_long_wait_is_refused_as_busy() -> None:
    slots = FairRenderSlots(slots=1, max_waiting=1, wait_s=0.3)
    ann = Render(slots, "ann")
    until(ann.inside.is_set, "ann's render")
    bob = Render(slots, "bob")
    until(lambda: slots.waiting == ("bob",), "bob in line")
    cy = Render(slots, "cy")                         # the line is full
    until(cy.ended.is_set, "cy's answer")
    assert cy.refused is not None and not cy.refused.replaced
    until(bob.ended.is_set, "bob's wait to end")       # ann keeps her slot past his wait
    assert bob.refused is not None and not bob.refused.replaced
    ann.finish()
    assert slots.waiting == () and slots.running == frozenset()


def test_one_person_dragging_does_not_keep_another_from_previews(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.web.routes import strength

    bob = another_browser(client)
    ann_job = wait_for(client, submit(client, size="96").json()["id"])
    bob_job = wait_for(bob, submit(bob, size="96").json()["id"])
    assert ann_job["state"] == bob_job["state"] == "succeeded"
    monkeypatch.setattr(strength.SLOTS, "wait_s", 0.3)
    ann_render = Render(strength.SLOTS, owner_of(client))   # ann's render in flight
    until(ann_render.inside.is_set, "ann's render")
    try:
        again = client.get(f"{ann_job['links']['strength']}?alpha=0.4")
        other = bob.get(f"{bob_job['links']['strength']}?alpha=0.4")
    finally:
        ann_render.finish()
    assert again.status_code == 429 and again.headers["retry-after"]   # her own slot only
    assert other.status_code == 200 and other.headers["content-type"] == "image/jpeg"
    assert client.get(f"{ann_job['links']['strength']}?alpha=0.4").status_code == 200

"""The per-case hash chain: verification catches altered, deleted and cut-off events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.chain import GENESIS, ChainProblem, event_hash, iso_utc, verify_chain

CASE = "2026093000000001"
T0 = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def build_chain(case_no: str = CASE, n: int = 5) -> list[dict]:
    """n linked events as they are stored (seq, type, at, actor, data, prev_hash, hash)."""
    specs = [
        ("received", {"channel": "hotline", "category": "CXJS01"}, {"id": "intake-1", "role": "intake"}),
        ("dispatched", {"lead": "xicheng-cgzf"}, None),
        ("signed_for", {"department": "xicheng-cgzf"}, {"id": "h-1", "role": "handler", "department": "xicheng-cgzf"}),
        ("contacted", {"note": "已电话联系诉求人"}, {"id": "h-1", "role": "handler", "department": "xicheng-cgzf"}),
        ("replied", {"reply": "已责令拆除"}, {"id": "h-1", "role": "handler", "department": "xicheng-cgzf"}),
        ("reviewed", {"resolution": "解决", "satisfaction": "满意"}, {"id": "intake-1", "role": "intake"}),
    ]
    events, prev = [], GENESIS
    for i in range(n):
        type_, data, actor = specs[i % len(specs)]
        ev = {"seq": i + 1, "type": type_, "at": T0 + timedelta(minutes=17 * i), "actor": actor, "data": dict(data)}
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(prev, case_no=case_no, **{k: ev[k] for k in ("seq", "type", "at", "actor", "data")})
        prev = ev["hash"]
        events.append(ev)
    return events


def test_hashes_are_hex_sha256_and_linked() -> None:
    events = build_chain()
    assert events[0]["prev_hash"] == GENESIS == "0" * 64
    for a, b in zip(events, events[1:], strict=False):
        assert b["prev_hash"] == a["hash"]
    for ev in events:
        assert len(ev["hash"]) == 64 and int(ev["hash"], 16) >= 0
    assert len({ev["hash"] for ev in events}) == len(events)


def test_intact_chain_verifies() -> None:
    events = build_chain()
    assert verify_chain(CASE, events) == []
    assert verify_chain(CASE, events, head_hash=events[-1]["hash"]) == []


def test_intact_chain_verifies_in_any_order() -> None:
    events = build_chain()
    assert verify_chain(CASE, list(reversed(events)), head_hash=events[-1]["hash"]) == []


def test_empty_chain() -> None:
    assert verify_chain(CASE, []) == []
    assert verify_chain(CASE, [], head_hash=GENESIS) == []
    assert verify_chain(CASE, [], head_hash="f" * 64) == [
        ChainProblem(1, "chain head differs from the recorded head (events missing)")
    ]


def test_chain_of_another_case_does_not_verify() -> None:
    events = build_chain()
    problems = verify_chain("2026093000000002", events)
    assert [p.seq for p in problems] == [1, 2, 3, 4, 5]
    assert all(p.problem == "content altered (hash mismatch)" for p in problems)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data", {"lead": "xicheng-shichahai"}),
        ("type", "closed"),
        ("at", T0 + timedelta(minutes=17, microseconds=1)),
        ("actor", {"id": "supervisor-9", "role": "supervisor"}),
    ],
)
def test_altered_event_is_caught_at_its_seq(field: str, value: object) -> None:
    events = build_chain()
    events[1][field] = value  # seq 2
    assert verify_chain(CASE, events) == [ChainProblem(2, "content altered (hash mismatch)")]


def test_altered_nested_value_is_caught() -> None:
    events = build_chain()
    events[3]["data"]["note"] = "未联系"  # seq 4
    assert verify_chain(CASE, events) == [ChainProblem(4, "content altered (hash mismatch)")]


def test_rehashed_event_breaks_the_next_link() -> None:
    events = build_chain()
    ev = events[2]  # seq 3: altered and its own hash recomputed by the forger
    ev["data"] = {"department": "xicheng-shichahai"}
    ev["hash"] = event_hash(ev["prev_hash"], case_no=CASE, **{k: ev[k] for k in ("seq", "type", "at", "actor", "data")})
    assert verify_chain(CASE, events, head_hash=build_chain()[-1]["hash"]) == [
        ChainProblem(4, "link to the previous event is broken")
    ]


def test_deleted_middle_event_is_caught() -> None:
    events = build_chain()
    del events[2]  # seq 3
    assert verify_chain(CASE, events) == [
        ChainProblem(3, "missing events 3..3"),
        ChainProblem(4, "link to the previous event is broken"),
    ]


def test_deleted_run_of_events_is_caught() -> None:
    events = build_chain(n=6)
    del events[1:4]  # seq 2, 3, 4
    problems = verify_chain(CASE, events)
    assert ChainProblem(2, "missing events 2..4") in problems
    assert ChainProblem(5, "link to the previous event is broken") in problems


def test_deleted_first_event_is_caught() -> None:
    events = build_chain()
    del events[0]
    assert verify_chain(CASE, events) == [
        ChainProblem(1, "missing events 1..1"),
        ChainProblem(2, "link to the previous event is broken"),
    ]


def test_cut_off_tail_is_caught_with_head_hash() -> None:
    events = build_chain()
    head = events[-1]["hash"]
    cut = events[:-2]  # seq 4 and 5 removed
    assert verify_chain(CASE, cut, head_hash=head) == [
        ChainProblem(4, "chain head differs from the recorded head (events missing)")
    ]


def test_cut_off_tail_needs_head_hash() -> None:
    events = build_chain()
    assert verify_chain(CASE, events[:-1]) == []  # a clean prefix is itself a valid chain


def test_iso_utc_naive_and_aware_agree() -> None:
    naive = datetime(2026, 9, 30, 2, 0, 0, 123456)
    aware_utc = naive.replace(tzinfo=UTC)
    aware_bj = datetime(2026, 9, 30, 10, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert iso_utc(naive) == iso_utc(aware_utc) == iso_utc(aware_bj) == "2026-09-30T02:00:00.123456Z"


def test_naive_and_aware_times_hash_the_same() -> None:
    kwargs = {"case_no": CASE, "seq": 1, "type": "received", "actor": None, "data": {"x": 1}}
    naive = event_hash(GENESIS, at=datetime(2026, 9, 30, 2, 0), **kwargs)  # type: ignore[arg-type]
    aware = event_hash(GENESIS, at=datetime(2026, 9, 30, 2, 0, tzinfo=UTC), **kwargs)  # type: ignore[arg-type]
    bj = event_hash(GENESIS, at=datetime(2026, 9, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), **kwargs)  # type: ignore[arg-type]
    later = event_hash(GENESIS, at=datetime(2026, 9, 30, 2, 0, 1), **kwargs)  # type: ignore[arg-type]
    assert naive == aware == bj
    assert later != naive


def test_chain_stored_with_naive_utc_times_verifies() -> None:
    """Events hashed with aware times verify when read back naive (as SQLite returns them)."""
    events = build_chain()
    stored = copy.deepcopy(events)
    for ev in stored:
        ev["at"] = ev["at"].astimezone(UTC).replace(tzinfo=None)
    assert verify_chain(CASE, stored, head_hash=events[-1]["hash"]) == []


def test_data_key_order_does_not_matter() -> None:
    kwargs = {"case_no": CASE, "seq": 1, "type": "received", "at": T0, "actor": None}
    a = event_hash(GENESIS, data={"a": 1, "b": "西城"}, **kwargs)  # type: ignore[arg-type]
    b = event_hash(GENESIS, data={"b": "西城", "a": 1}, **kwargs)  # type: ignore[arg-type]
    assert a == b


def test_a_redacted_event_keeps_its_link_but_is_not_rehashed() -> None:
    events = build_chain()
    events[1] = {**events[1], "data": {**events[1]["data"], "note": "已匿名化", "_redacted": ["note"]}}
    assert verify_chain(CASE, events, head_hash=events[-1]["hash"]) == []
    events[1] = {**events[1], "prev_hash": "f" * 64}  # a redacted event still has to link to its predecessor
    assert verify_chain(CASE, events) == [ChainProblem(2, "link to the previous event is broken")]

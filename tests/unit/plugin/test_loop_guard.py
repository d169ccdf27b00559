from __future__ import annotations

from plugin.orthanc.loop_guard import SeriesInfo, decide, format_routed, parse_routed

MR1 = SeriesInfo("s1", "MR", "Siemens")
MR2 = SeriesInfo("s2", "MR", "GE")
SC = SeriesInfo("r1", "OT", "simcase")
SR = SeriesInfo("r2", "SR", "SIMCASE")


def test_new_mr_study_is_routed_without_own_series() -> None:
    d = decide([MR1, MR2, SC], routed=set())
    assert d.route and d.series_ids == ("s1", "s2")


def test_only_own_results_new_is_not_routed() -> None:
    d = decide([MR1, MR2, SC, SR], routed={"s1", "s2"})
    assert not d.route and "simcase" in d.reason


def test_late_series_is_routed_again() -> None:
    assert decide([MR1, MR2, SC], routed={"s1"}).route


def test_non_mr_study_is_not_routed() -> None:
    d = decide([SeriesInfo("c1", "CT", "X")], routed=set())
    assert not d.route and d.reason == "no MR series"
    assert not decide([SC, SR], routed=set()).route


def test_metadata_round_trip() -> None:
    assert parse_routed(format_routed(["b", "a", "a"])) == {"a", "b"}
    assert parse_routed(None) == set()
    assert format_routed(["b", "a"]) == "a,b"

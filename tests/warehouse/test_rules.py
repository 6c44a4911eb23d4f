"""One scenario per rule of docs/metrics.md and per edge case, each computed by hand."""

from __future__ import annotations

import pytest

from tests.support.builder import Bundle, at, load_bundle, sha

P = ("2026-03-01", "2026-03-31")


def deploy_each(b: Bundle, *commits: str, day: int = 2) -> None:
    """Deployments D1, D2, ... of the commits, one a day from `day` at midnight."""
    for i, commit in enumerate(commits):
        b.deploy(f"D{i + 1}", commit, at(day + i))


def linear(b: Bundle, *names: str, day: int = 1) -> None:
    """A linear history c0 <- c1 <- ... authored on `day` at hours 0, 1, 2..."""
    parent = None
    for i, name in enumerate(names):
        b.commit(name, (parent,) if parent else (), when=at(day, i))
        parent = name


# Changes shipped, baselines


def test_baseline_ships_nothing_and_the_next_ships_only_what_is_new(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2", "c3")
    b.deploy("D1", "c1", at(5))
    b.deploy("D2", "c3", at(6))
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"D2": {sha("c2"), sha("c3")}}
    m = r.metrics(*P)["svc"]
    assert (m["deployments"], m["baseline_deployments"], m["changes"]) == (2, 1, 2)
    # lead times: c2 authored day 1 02:00, c3 03:00, shipped day 6 00:00
    assert m["lead_time_median_hours"] == pytest.approx((118 + 117) / 2)


def test_baseline_with_unknown_sha_reaches_nothing_so_the_next_ships_all_history(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("D1", "", at(5), raw_sha="abcdef1")
    b.deploy("D2", "c1", at(6))
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"D2": {sha("c0"), sha("c1")}}
    m = r.metrics(*P)["svc"]
    assert (m["unknown_sha_deployments"], m["baseline_deployments"], m["changes"]) == (1, 1, 2)


def test_unknown_sha_deployment_counts_but_ships_nothing(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    b.deploy("D1", "c0", at(5))
    b.deploy("D2", "", at(6), raw_sha="0123456789abcdef")
    b.deploy("D3", "c2", at(7))
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"D3": {sha("c1"), sha("c2")}}
    m = r.metrics(*P)["svc"]
    assert (m["deployments"], m["unknown_sha_deployments"]) == (3, 1)


def test_redeploy_of_the_same_sha_ships_nothing_and_is_no_rollback(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    deploy_each(b, "c0", "c1", "c1", day=5)
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"D2": {sha("c1")}}
    d = r.deployments()
    assert not d["D3"]["is_rollback"] and not d["D2"]["is_failed"]
    assert r.metrics(*P)["svc"]["unplanned_deployments"] == 0


def test_failed_attempts_count_nowhere(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("D1", "c0", at(5))
    b.deploy("X", "c1", at(6), status="failure")
    b.deploy("D2", "c1", at(7))
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"D2": {sha("c1")}}
    assert r.metrics(*P)["svc"]["deployments"] == 2


def test_history_start_ignores_earlier_deployments_entirely(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(10))
    b.deploy("D3", "c2", at(11))
    r = load_bundle(b, tmp_path, history_start=__import__("datetime").date(2026, 3, 5))
    # D2 becomes the baseline: it ships nothing, D3 ships c2 only
    assert r.shipped() == {"D3": {sha("c2")}}
    m = r.metrics(*P)["svc"]
    assert (m["deployments"], m["baseline_deployments"], m["changes"]) == (2, 1, 1)


# What a change is


def test_merge_commit_pr_counts_once_with_first_commit_start_and_stages(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("f1", ("c0",), when=at(2, 1))
    b.commit("f2", ("f1",), when=at(2, 5))
    b.commit("m", ("c0", "f2"), when=at(3, 10), message="Merge pull request #7")
    b.pr(7, "m", ("f1", "f2"), created=at(2, 8), first_commit=at(2, 2), review=at(3, 1), merged=at(3, 10))
    b.deploy("D1", "c0", at(1, 12))
    b.deploy("D2", "m", at(3, 12))
    r = load_bundle(b, tmp_path)
    m = r.metrics(*P)["svc"]
    assert m["changes"] == 1  # the merge commit and both branch commits are one change
    assert m["lead_time_median_hours"] == pytest.approx(34)  # from first_commit_at 2d 02:00 to 3d 12:00
    assert (m["coding_median_hours"], m["pickup_median_hours"]) == (6, 17)
    assert (m["review_median_hours"], m["deploy_median_hours"]) == (9, 2)


def test_first_commit_falls_back_to_earliest_authored_commit_and_pr_opening_bounds_it(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("a", ("c0",), when=at(2, 3))
    b.commit("s", ("c0",), when=at(4))  # squash commit on main
    b.pr(
        1, "s", ("a",), created=at(2, 6), merged=at(4)
    )  # first_commit_at empty: the earliest commit, day 2 03:00
    b.commit("late", ("s",), when=at(9))
    b.commit("s2", ("late",), when=at(9, 2))
    b.pr(2, "s2", ("late",), created=at(8), merged=at(9, 2))  # a first commit after the opening: opening wins
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "s", at(4, 3))
    b.deploy("D3", "s2", at(9, 4))
    r = load_bundle(b, tmp_path)
    by_change = {row["pr_number"]: row for row in r.rows("lead_time")}
    assert by_change[1]["lead_time_hours"] == pytest.approx(48)
    assert by_change[2]["lead_time_hours"] == pytest.approx(28)
    # stages use first_commit_at itself: empty here, so coding is null for both
    assert r.metrics(*P)["svc"]["coding_median_hours"] is None


@pytest.mark.parametrize(("setting", "hours"), [("first_commit", 49), ("pr_opened", 45), ("merged", 3)])
def test_lead_time_start_setting(tmp_path, setting, hours):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("s", ("c0",), when=at(4))
    b.pr(1, "s", (), created=at(2, 5), first_commit=at(2, 1), merged=at(3, 23))
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "s", at(4, 2))
    r = load_bundle(b, tmp_path, lead_time_start=setting)
    assert r.metrics(*P)["svc"]["lead_time_median_hours"] == pytest.approx(hours)


def test_commit_belongs_to_merge_commit_pr_first_then_lowest_listing_pr(tmp_path):
    b = Bundle()
    linear(b, "c0", "x", "y")
    b.pr(5, "y", ("x",), created=at(1), merged=at(1, 3))  # y is #5's merge commit; x is also listed by #3
    b.pr(3, None, ("x", "y"), created=at(1), merged=at(1, 3))
    b.pr(2, None, ("x",), created=at(1))  # unmerged: does not own x
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "y", at(2))
    r = load_bundle(b, tmp_path)
    changes = sorted(row["pr_number"] for row in r.rows("lead_time"))
    assert changes == [3, 5]


def test_merge_commit_without_pr_is_not_a_change_and_unmerged_pr_commits_are(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("b1", ("c0",), when=at(1, 2))
    b.commit("m", ("c0", "b1"), when=at(1, 3), message="Merge branch 'x'")
    b.pr(9, None, ("b1",), created=at(1, 2))  # never merged: b1 is a change of its own
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "m", at(2))
    r = load_bundle(b, tmp_path)
    rows = r.rows("lead_time")
    assert [(row["pr_number"], row["commit_sha"]) for row in rows] == [(None, sha("b1"))]


def test_change_counts_once_per_service_across_production_environments(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("E1", "c0", at(2), env="prod-eu")
    b.deploy("U1", "c0", at(2, 1), env="prod-us")
    b.deploy("E2", "c1", at(3), env="prod-eu")
    b.deploy("U2", "c1", at(4), env="prod-us")
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"E2": {sha("c1")}, "U2": {sha("c1")}}
    m = r.metrics(*P)["svc"]
    assert (m["deployments"], m["baseline_deployments"], m["changes"]) == (4, 2, 1)
    assert m["lead_time_median_hours"] == pytest.approx(47)  # counted at E2 (day 3), authored day 1 01:00


def test_monorepo_change_counts_once_for_each_service(tmp_path):
    b = Bundle(service="api", repo="acme/mono", team="t")
    b.add_service("web", "acme/mono", "t")
    linear(b, "c0", "c1")
    for service in ("api", "web"):
        b.deploy(f"{service}-1", "c0", at(2), service=service)
        b.deploy(f"{service}-2", "c1", at(3), service=service)
    r = load_bundle(b, tmp_path)
    assert r.metrics(*P)["api"]["changes"] == 1 and r.metrics(*P)["web"]["changes"] == 1
    assert r.metrics(*P, group_by="team")["t"]["changes"] == 2


def test_negative_lead_time_is_excluded_and_counted(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("future", ("c0",), when=at(20))  # clock skew: authored after it was deployed
    b.commit("ok", ("future",), when=at(2))
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "ok", at(3))
    r = load_bundle(b, tmp_path)
    m = r.metrics(*P)["svc"]
    assert (m["changes"], m["lead_time_excluded"]) == (1, 1)
    assert m["lead_time_median_hours"] == pytest.approx(24)
    excluded = [row for row in r.rows("lead_time") if row["is_excluded"]]
    assert excluded[0]["excluded_reason"] == "negative lead time"


def test_stage_with_a_missing_or_negative_end_is_null(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("s", ("c0",), when=at(3))
    # review before the PR was opened (negative pickup); no first_commit_at (coding null)
    b.pr(1, "s", (), created=at(2, 10), review=at(2, 8), merged=at(3))
    b.deploy("D1", "c0", at(1, 1))
    b.deploy("D2", "s", at(3, 4))
    r = load_bundle(b, tmp_path)
    m = r.metrics(*P)["svc"]
    assert (m["coding_median_hours"], m["pickup_median_hours"]) == (None, None)
    assert (m["review_median_hours"], m["deploy_median_hours"]) == (16, 4)


# Change failure rate


def test_rollback_fails_the_deployment_and_is_unplanned(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    deploy_each(b, "c0", "c1", "c2")
    b.deploy("R", "c1", at(4, 2))  # back to c1, deployed before D3
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert d["R"]["is_rollback"] and d["R"]["is_unplanned"] and d["R"]["shipped_commits"] == 0
    assert d["D3"]["is_failed"] and list(d["D3"]["failure_signals"]) == ["rollback"]
    m = r.metrics(*P)["svc"]
    assert (m["failed_deployments"], m["unplanned_deployments"]) == (1, 1)
    assert m["recovery_time_median_hours"] == pytest.approx(2)


def test_rolling_forward_after_a_rollback_fails_the_rollback_too(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(3))
    b.deploy("R", "c0", at(3, 1))
    b.deploy("F", "c1", at(3, 5))
    d = load_bundle(b, tmp_path).deployments()
    assert d["D2"]["is_failed"] and d["R"]["is_failed"] and not d["F"]["is_failed"]
    assert d["R"]["is_rollback"] and d["F"]["is_rollback"]


def test_revert_by_short_sha_in_a_later_deployment(tmp_path):
    b = Bundle()
    linear(b, "c0", "bad", "other")
    b.commit(
        "rev", ("other",), when=at(1, 5), message=f'Revert "bad"\n\nThis reverts commit {sha("bad")[:8]}.'
    )
    deploy_each(b, "c0", "bad", "other", "rev")
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert list(d["D2"]["failure_signals"]) == ["revert"] and d["D2"]["remediated_by"] == "D4"
    assert not d["D3"]["is_failed"]
    assert d["D4"]["is_unplanned"] and list(d["D4"]["unplanned_reasons"]) == ["revert"]
    assert r.metrics(*P)["svc"]["recovery_time_median_hours"] == pytest.approx(48)


def test_revert_of_a_commit_the_deployment_did_not_ship_fails_nothing_but_is_unplanned(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.commit("rev", ("c1",), when=at(1, 5), message="This reverts commit 1234567abc.")
    deploy_each(b, "c0", "c1", "rev")
    d = load_bundle(b, tmp_path).deployments()
    assert not d["D2"]["is_failed"] and d["D3"]["is_unplanned"]


@pytest.mark.parametrize(
    ("how", "pr_kwargs", "message"),
    [
        ("label", {"labels": "bug;HotFix"}, None),
        ("branch", {"head": "hotfix/cart"}, None),
        ("title", None, "hotfix: null cart\n\nbody"),
    ],
)
def test_hotfix_in_the_next_deployment_fails_the_previous(tmp_path, how, pr_kwargs, message):
    b = Bundle()
    linear(b, "c0", "c1")
    b.commit("fix", ("c1",), when=at(1, 5), message=message or "guard null cart")
    if pr_kwargs is not None:
        b.pr(4, "fix", (), created=at(1, 4), merged=at(1, 5), **pr_kwargs)
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(3))
    b.deploy("D3", "fix", at(3, 3))
    d = load_bundle(b, tmp_path).deployments()
    assert list(d["D2"]["failure_signals"]) == ["hotfix"], how
    assert d["D3"]["is_unplanned"] and d["D2"]["recovery_hours"] == pytest.approx(3)


def test_an_unmerged_pr_labelled_hotfix_does_nothing(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    b.pr(4, None, ("c2",), created=at(1), labels="hotfix")
    deploy_each(b, "c0", "c1", "c2")
    d = load_bundle(b, tmp_path).deployments()
    assert not d["D2"]["is_failed"] and not d["D3"]["is_unplanned"]


def test_hotfix_title_is_a_setting(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.commit("fix", ("c1",), when=at(1, 5), message="URGENT: fix checkout")
    deploy_each(b, "c0", "c1", "fix")
    d = load_bundle(b, tmp_path, hotfix_title="^URGENT").deployments()
    assert d["D2"]["is_failed"] and d["D3"]["is_unplanned"]


# Incident attribution and recovery


def incident_bundle() -> Bundle:
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    deploy_each(b, "c0", "c1", "c2")
    return b


def test_incident_linked_by_deployment_id(tmp_path):
    b = incident_bundle()
    b.incident("I", at(10), at(10, 2), deployment_id="D2")  # beyond the window, but linked
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert d["D2"]["has_incident"] and not d["D3"]["is_failed"]
    assert d["D2"]["recovery_hours"] == pytest.approx(7 * 24 + 2)


def test_a_link_to_a_later_deployment_falls_back_to_the_time_window(tmp_path):
    b = incident_bundle()
    b.incident("I", at(3, 5), at(3, 6), deployment_id="D3")  # D3 finished after the incident began
    d = load_bundle(b, tmp_path).deployments()
    assert d["D2"]["has_incident"] and not d["D3"]["has_incident"]


def test_incident_linked_by_commit_sha_prefix(tmp_path):
    b = incident_bundle()
    b.incident("I", at(9), at(9, 1), commit_sha=sha("c1")[:10])
    r = load_bundle(b, tmp_path)
    rows = {row["incident_id"]: row for row in r.rows("incidents")}
    assert (rows["I"]["deployment_id"], rows["I"]["attributed_by"]) == ("D2", "commit_sha")


@pytest.mark.parametrize(("hours", "attributed"), [(72, True), (72.001, False)])
def test_attribution_window_is_inclusive(tmp_path, hours, attributed):
    b = incident_bundle()
    b.incident("I", at(4, hours), at(4, hours + 1))
    r = load_bundle(b, tmp_path)
    assert r.deployments()["D3"]["has_incident"] is attributed
    assert r.metrics(*P)["svc"]["unattributed_incidents"] == (0 if attributed else 1)


def test_attribution_window_is_a_setting(tmp_path):
    b = incident_bundle()
    b.incident("I", at(4, 5), at(4, 6))
    r = load_bundle(b, tmp_path, attribution_window_hours=4)
    assert not r.deployments()["D3"]["has_incident"]


def test_open_incident_leaves_the_failure_unrecovered(tmp_path):
    b = incident_bundle()
    b.incident("I1", at(4, 1), at(4, 3))
    b.incident("I2", at(4, 2))  # still open
    r = load_bundle(b, tmp_path)
    m = r.metrics(*P)["svc"]
    assert (m["failed_deployments"], m["unrecovered_failures"], m["recovery_time_median_hours"]) == (
        1,
        1,
        None,
    )
    assert m["incident_mttr_median_hours"] == pytest.approx(2)


def test_recovery_is_the_latest_resolution_of_the_attributed_incidents(tmp_path):
    b = incident_bundle()
    b.incident("I1", at(4, 1), at(4, 3))
    b.incident("I2", at(4, 2), at(4, 9))
    m = load_bundle(b, tmp_path).metrics(*P)["svc"]
    assert m["recovery_time_median_hours"] == pytest.approx(9)
    assert m["incident_mttr_median_hours"] == pytest.approx((2 + 7) / 2)


def test_the_first_deployment_during_an_incident_is_unplanned(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    b.deploy("D1", "c0", at(2))
    b.incident("I", at(10), at(12))  # unattributed (D1 is 8 days earlier)
    b.deploy("D2", "c1", at(11))
    b.deploy("D3", "c2", at(11, 5))
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert d["D2"]["is_unplanned"] and list(d["D2"]["unplanned_reasons"]) == ["incident fix"]
    assert not d["D3"]["is_unplanned"]
    assert r.metrics(*P)["svc"]["unattributed_incidents"] == 1


def test_no_incident_fix_when_the_next_deployment_comes_after_resolution(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("D1", "c0", at(2))
    b.incident("I", at(10), at(10, 1))
    b.deploy("D2", "c1", at(11))
    assert not load_bundle(b, tmp_path).deployments()["D2"]["is_unplanned"]


# Production environments, periods, time


def test_environment_names_are_matched_case_insensitively_and_tiers_win(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2", "c3")
    b.deploy("A", "c0", at(2), env=" Production ")
    b.deploy("B", "c1", at(3), env="PROD-EU")
    b.deploy("C", "c2", at(4), env="live", tier="Production")
    b.deploy("D", "c3", at(5), env="prod", tier="staging")  # its tier says it is not production
    b.deploy("E", "c3", at(5), env="staging")
    b.deploy("F", "c3", at(6), env="preprod")
    r = load_bundle(b, tmp_path)
    assert set(r.deployments()) == {"A", "B", "C"}
    assert {d["environment"] for d in r.deployments().values()} == {"production", "prod-eu", "live"}


def test_period_is_whole_utc_days_and_offsets_are_converted(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2", "c3")
    b.deploy("D1", "c0", at(1))
    b.deploy("D2", "c1", "2026-03-16T01:30:00+02:00")  # 15th 23:30 UTC: inside
    b.deploy("D3", "c2", "2026-03-16T00:00:00Z")  # the first instant after the period
    b.deploy("D4", "c3", "2026-03-01T23:59:59-00:30")  # 2nd 00:29:59 UTC
    r = load_bundle(b, tmp_path)
    assert r.metrics("2026-03-02", "2026-03-15")["svc"]["deployments"] == 2
    assert r.metrics("2026-03-16", "2026-03-16")["svc"]["deployments"] == 1


def test_iso_weeks_cut_by_the_period_are_left_out(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2", "c3")
    b.deploy("D1", "c0", at(3))  # Tue 3 March, in a partial week
    b.deploy("D2", "c1", at(9))  # Mon 9 (week 9-15)
    b.deploy("D3", "c2", at(10))
    b.deploy("D4", "c3", at(17))  # Tue 17 (week 16-22); week 23-29 has none
    r = load_bundle(b, tmp_path)
    m = r.metrics("2026-03-03", "2026-03-30")["svc"]  # whole weeks: 9-15 (2 days), 16-22 (1), 23-29 (0)
    assert m["deploy_days_per_week_median"] == 1 and m["deployment_days"] == 4
    short = r.metrics("2026-03-10", "2026-03-14")["svc"]  # no whole week
    assert short["deploy_days_per_week_median"] is None and short["tiers"]["deployment_frequency"] is None


def test_ties_in_finished_at_are_broken_by_deployment_id_as_text(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("b", "c1", at(3))
    b.deploy("a", "c0", at(3))  # same time, sorts first: the baseline
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert d["a"]["is_baseline"] and r.shipped() == {"b": {sha("c1")}}


def test_a_past_period_changes_when_later_data_arrives(tmp_path):
    b = Bundle()
    linear(b, "c0", "c1", "c2")
    deploy_each(b, "c0", "c1", "c2")
    b.deploy("R", "c1", at(10))  # next week's rollback fails this week's D3
    r = load_bundle(b, tmp_path)
    assert r.metrics("2026-03-02", "2026-03-08")["svc"]["failed_deployments"] == 1


# Pooling and tiers


def test_team_pools_rows_and_takes_medians_over_pooled_values(tmp_path):
    b = Bundle(service="a", repo="acme/a", team="t")
    b.add_service("b", "acme/b", "t")
    b.add_service("idle", "acme/idle", "")
    for service, lead_hours in (("a", (1, 2, 3)), ("b", (10,))):
        repo = f"acme/{service}"
        b.commit(f"{service}0", when=at(1), repo=repo)
        parent = f"{service}0"
        b.deploy(f"{service}-base", parent, at(1, 1), service=service)
        for i, hours in enumerate(lead_hours):
            name = f"{service}{i + 1}"
            b.commit(name, (parent,), when=at(5 + i, 24 - hours), repo=repo)
            b.deploy(f"{service}-{i}", name, at(6 + i), service=service)
            parent = name
    r = load_bundle(b, tmp_path)
    team = r.metrics(*P, group_by="team")
    assert team["t"]["lead_time_median_hours"] == pytest.approx(2.5)  # median of 1, 2, 3, 10
    assert team["t"]["deployment_days"] == 4  # days 1, 6, 7, 8 over both services
    assert team["unassigned"]["deployments"] == 0 and team["unassigned"]["deploys_per_day"] == 0
    org = r.metrics(*P, group_by="org")
    assert list(org) == ["all"] and org["all"]["deployments"] == 6


def test_tiers_and_their_thresholds_are_settings(tmp_path):
    from warehouse.metric_settings import Tiers

    b = Bundle()
    linear(b, "c0", "c1")
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(3))
    r = load_bundle(b, tmp_path)
    assert r.metrics(*P)["svc"]["tiers"]["lead_time"] == "high"  # 47 h: authored day 1 01:00, shipped day 3
    strict = load_bundle(b, tmp_path / "x", tiers=Tiers(lead_time={"elite": 1.0, "high": 2.0, "medium": 3.0}))
    assert strict.metrics(*P)["svc"]["tiers"]["lead_time"] == "low"
    lax = load_bundle(
        b, tmp_path / "y", tiers=Tiers(lead_time={"elite": 100.0, "high": 200.0, "medium": 300.0})
    )
    assert lax.metrics(*P)["svc"]["tiers"]["lead_time"] == "elite"

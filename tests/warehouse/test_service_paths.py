"""METRICS.md "Service paths", one rule per test, each worked out by hand. One repository, acme/shop,
deployed as `web` (paths web/*), `api` (api/*;libs/*) and `all` (no paths): every service deploys the
same shas at the same times (deployment ids W1.., A1.., L1..)."""

from __future__ import annotations

import json

from tests.support.builder import Bundle, at, load_bundle, sha
from tests.support.cli import dora

P = ("2026-03-01", "2026-03-31")
REPO = "acme/shop"
SERVICES = {"web": ("web/*", "W"), "api": ("api/*;libs/*", "A"), "all": ("", "L")}


def shop() -> Bundle:
    b = Bundle(service="web", repo=REPO, team="front")
    b.rows["services"].clear()
    for name, (paths, _) in SERVICES.items():
        team = "back" if name != "web" else "front"
        b.rows["services"].append({"service": name, "repo": REPO, "team": team, "paths": paths})
    return b


def commit(
    b: Bundle, name: str, parents: tuple[str, ...], hour: float, *files: str, message: str = ""
) -> None:
    b.commit(name, parents, when=at(1, hour), message=message or name)
    for path in files:
        b.rows["commit_files"].append({"repo": REPO, "sha": sha(name), "path": path})


def deploy_all(b: Bundle, *commits: str) -> None:
    """Every service deploys commits[i] on day 2 + i: W1, A1, L1 the first (the baselines)."""
    for name, (_, prefix) in SERVICES.items():
        for i, target in enumerate(commits):
            b.deploy(f"{prefix}{i + 1}", target, at(2 + i), service=name)


def test_a_commit_touching_two_services_paths_counts_for_both(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "c1", ("c0",), 1, "web/app.js", "libs/util.py")
    deploy_all(b, "c0", "c1")
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"W2": {sha("c1")}, "A2": {sha("c1")}, "L2": {sha("c1")}}
    by_service = r.metrics(*P)
    assert [by_service[s]["changes"] for s in ("web", "api", "all")] == [1, 1, 1]
    # pooled, the change counts once for each service: front has web's, back has api's and all's
    assert r.metrics(*P, group_by="team")["back"]["changes"] == 2
    assert r.metrics(*P, group_by="org")["all"]["changes"] == 3
    # lead time for each: authored day 1 01:00, deployed day 3 00:00
    assert by_service["web"]["lead_time_median_hours"] == by_service["api"]["lead_time_median_hours"] == 47


def test_a_docs_only_commit_and_a_commit_without_files_count_for_no_path_filtered_service(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "web/app.js")
    commit(b, "c1", ("c0",), 1, "docs/guide.md")
    commit(b, "c2", ("c1",), 2)  # no row in commit_files
    deploy_all(b, "c0", "c2")
    r = load_bundle(b, tmp_path)
    assert r.shipped() == {"L2": {sha("c1"), sha("c2")}}
    m = r.metrics(*P)
    assert (m["web"]["changes"], m["api"]["changes"], m["all"]["changes"]) == (0, 0, 2)
    # the deployments still count: they reached the commits, they shipped none of web's
    assert (m["web"]["deployments"], m["web"]["lead_time_median_hours"]) == (2, None)


def test_a_merged_pr_whose_branch_commits_touch_one_service_is_a_change_of_that_service_only(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "b1", ("c0",), 1, "api/handlers.py")
    commit(b, "b2", ("b1",), 2, "api/server.py")
    commit(b, "m1", ("c0", "b2"), 4)  # the merge commit: no files of its own
    b.pr(1, "m1", ("b1", "b2"), created=at(1, 3), merged=at(1, 4))
    deploy_all(b, "c0", "m1")
    r = load_bundle(b, tmp_path)
    assert r.shipped()["A2"] == {sha("b1"), sha("b2")}  # the merge commit is in no path-filtered service
    assert "W2" not in r.shipped()
    assert r.shipped()["L2"] == {sha("b1"), sha("b2"), sha("m1")}
    m = r.metrics(*P)
    assert (m["web"]["changes"], m["api"]["changes"], m["all"]["changes"]) == (0, 1, 1)
    changes = {row["service"]: row for row in r.rows("changes")}
    assert set(changes) == {"api", "all"} and changes["api"]["pr_number"] == 1
    # start: the first commit (01:00) before the PR's opening (03:00); deployed day 3 00:00
    assert changes["api"]["lead_time_hours"] == 47


def test_a_revert_of_a_web_commit_fails_webs_deployment_and_not_apis(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "c1", ("c0",), 1, "web/app.js")
    commit(b, "c2", ("c1",), 2, "api/server.py")
    commit(b, "c3", ("c2",), 3, "web/app.js", message=f"Revert c1\n\nThis reverts commit {sha('c1')}.")
    deploy_all(b, "c0", "c2", "c3")
    r = load_bundle(b, tmp_path)
    d = r.deployments()
    assert d["W2"]["is_reverted"] and d["W2"]["is_failed"] and d["W3"]["is_unplanned"]
    assert not d["A2"]["is_failed"] and not d["A3"]["is_unplanned"]  # api's D3 ships nothing of api's
    assert r.shipped()["A2"] == {sha("c2")} and "A3" not in r.shipped()
    assert d["L2"]["is_reverted"] and d["L3"]["is_unplanned"]
    m = r.metrics(*P)
    assert (m["web"]["failed_deployments"], m["api"]["failed_deployments"]) == (1, 0)
    assert (m["web"]["unplanned_deployments"], m["api"]["unplanned_deployments"]) == (1, 0)
    # web recovered when the revert was deployed: day 4 00:00 - day 3 00:00
    assert m["web"]["recovery_time_median_hours"] == 24


def test_commit_sha_attribution_needs_a_shipped_commit_in_the_services_paths(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "c1", ("c0",), 1, "api/server.py")
    commit(b, "c2", ("c1",), 2, "web/app.js")
    deploy_all(b, "c0", "c2")
    # both name c1 by a prefix, 5 days after the deployments: outside the 72 h window
    b.incident("INC-W", at(8), at(9), commit_sha=sha("c1")[:10], service="web")
    b.incident("INC-A", at(8), at(9), commit_sha=sha("c1")[:10], service="api")
    r = load_bundle(b, tmp_path)
    incidents = {row["incident_id"]: row for row in r.rows("incidents")}
    assert (incidents["INC-A"]["deployment_id"], incidents["INC-A"]["attributed_by"]) == ("A2", "commit_sha")
    assert incidents["INC-W"]["is_unattributed"] and not isinstance(incidents["INC-W"]["deployment_id"], str)
    m = r.metrics(*P)
    assert (m["api"]["failed_deployments"], m["web"]["failed_deployments"]) == (1, 0)
    assert m["web"]["unattributed_incidents"] == 1


def test_a_service_without_paths_in_the_same_repository_sees_every_commit(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "c1", ("c0",), 1, "web/app.js")
    commit(b, "c2", ("c1",), 2, "api/server.py")
    commit(b, "c3", ("c2",), 3, "docs/guide.md")
    commit(b, "c4", ("c3",), 4)
    deploy_all(b, "c0", "c2", "c4")
    r = load_bundle(b, tmp_path)
    shipped = r.shipped()
    assert shipped["L2"] == {sha("c1"), sha("c2")} and shipped["L3"] == {sha("c3"), sha("c4")}
    assert shipped["W2"] == {sha("c1")} and shipped["A2"] == {sha("c2")}
    assert "W3" not in shipped and "A3" not in shipped
    assert r.metrics(*P)["all"]["changes"] == 4


def test_patterns_star_crosses_folders_question_mark_is_one_character_and_the_rest_is_literal(tmp_path):
    b = Bundle(service="deep", repo=REPO)
    b.rows["services"].clear()
    for name, paths in {"deep": "web/*", "one": "w?b/x.js", "lit": "a_b/%.py"}.items():
        b.rows["services"].append({"service": name, "repo": REPO, "team": "t", "paths": paths})
    commit(b, "c0", (), 0)
    commit(b, "c1", ("c0",), 1, "web/a/b/c.js")
    commit(b, "c2", ("c1",), 2, "wab/x.js", "waab/x.js")
    commit(b, "c3", ("c2",), 3, "aXb/%.py", "a_b/x.py")  # neither: `_` and `%` are literal
    commit(b, "c4", ("c3",), 4, "a_b/%.py")
    commit(b, "c5", ("c4",), 5, "webx/y.js")  # not under web/
    for name in ("deep", "one", "lit"):
        b.deploy(f"{name}-1", "c0", at(2), service=name)
        b.deploy(f"{name}-2", "c5", at(3), service=name)
    shipped = load_bundle(b, tmp_path).shipped()
    assert shipped == {"deep-2": {sha("c1")}, "one-2": {sha("c2")}, "lit-2": {sha("c4")}}


def test_explain_lists_the_commits_a_deployment_reached_outside_its_paths(tmp_path):
    b = shop()
    commit(b, "c0", (), 0, "README.md")
    commit(b, "c1", ("c0",), 1, "web/app.js")
    commit(b, "c2", ("c1",), 2, "api/server.py", "docs/api.md")
    commit(b, "c3", ("c2",), 3, "docs/guide.md")
    commit(b, "c4", ("c3",), 4, "web/style.css")
    deploy_all(b, "c0", "c2", "c4")
    r = load_bundle(b, tmp_path)
    rows = r.rows("outside_paths")
    by_deployment: dict[str, list[str]] = {}
    for row in rows:
        by_deployment.setdefault(row["deployment_id"], []).append(row["commit_sha"])
    # web: W2 reached c1 (shipped) and c2 (api's); W3 reached c3 (docs) and c4 (shipped)
    # api: A2 reached c1 (web's) and c2 (shipped); A3 reached c3 and c4, neither api's
    assert by_deployment == {
        "W2": [sha("c2")],
        "A2": [sha("c1")],
        "W3": [sha("c3")],
        "A3": [sha("c3"), sha("c4")],
    }
    w2 = next(row for row in rows if row["deployment_id"] == "W2")
    assert (w2["outside_commits"], list(w2["files"]), w2["title"]) == (
        1,
        ["api/server.py", "docs/api.md"],
        "c2",
    )
    # through the command line, for one deployment
    out = dora(
        "--warehouse",
        str(r.path),
        "explain",
        "outside_paths",
        "--deployment",
        "A3",
        "--from",
        P[0],
        "--to",
        P[1],
        "--format",
        "json",
    ).stdout
    listed = json.loads(out)
    assert [row["commit_sha"] for row in listed] == [sha("c3"), sha("c4")]
    assert {row["outside_commits"] for row in listed} == {2}
    # a service without paths has nothing outside them
    assert not [row for row in rows if row["service"] == "all"]

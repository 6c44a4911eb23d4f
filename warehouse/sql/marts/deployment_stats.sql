-- grain: one row per production deployment that shipped commits: how many, and whether any of them
-- belongs to a hotfix change or reverts a commit. Derived for the deployments in _affected_deployments.
-- reads temp: _affected_deployments
select
    r.deployment_id,
    count(*) as shipped_commits,
    bool_or(cc.is_hotfix) as ships_hotfix,
    bool_or(cc.is_revert) as ships_revert
from marts.deployment_reach as r
join marts.commit_changes as cc on cc.repo = r.repo and cc.sha = r.sha
where r.is_shipped and r.deployment_id in (select deployment_id from _affected_deployments)
group by all

-- The changes whose lead time must be derived again: shipped by a deployment just walked, of a commit
-- whose change facts changed (before or after), of a pull request written since the last transform, or
-- of a service whose walk started again.
-- reads temp: _walked, _changes_before, _affected_commits, _walk_reset
select cc.change_id
from marts.deployment_reach as r
join marts.commit_changes as cc using (repo, sha)
where r.is_shipped and cc.change_id is not null and r.deployment_id in (select deployment_id from _walked)
union
select change_id from _changes_before where change_id is not null
union
select change_id from marts.commit_changes semi join _affected_commits using (repo, sha)
where change_id is not null
union
select 'pr:' || repo || '#' || number from core.pull_requests where _load_id > getvariable('since_load_id')
union
select change_id from marts.changes where service in (select service from _walk_reset)

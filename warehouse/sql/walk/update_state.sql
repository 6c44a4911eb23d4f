-- After a walk: remember what was walked, and which shas it found missing.
-- reads temp: _walk_pending, _walk_changed
insert into walk_state.done by name
select p.deployment_id, p.service, p.environment, p.env_seq, p.commit_sha, p.repo, p.finished_at,
    p.is_unknown_sha as was_unknown, s.paths
from _walk_pending as p
left join core.services as s using (service);

delete from walk_state.missing as m using _walk_changed as c where m.repo = c.repo and m.sha = c.sha;
insert into walk_state.missing
select distinct p.repo, p.sha
from (select repo, unnest(parents) as sha from _walk_changed) as p
anti join core.commits as c using (repo, sha)
anti join walk_state.missing as m using (repo, sha);

-- After a walk: remember what was walked, on which graph, and which shas it found missing.
-- reads temp: _walk_pending, _walk_changed
insert into walk_state.done
select deployment_id, service, environment, env_seq, commit_sha, repo, finished_at, is_unknown_sha
from _walk_pending;

delete from walk_state.graph as g using _walk_changed as c where g.repo = c.repo and g.sha = c.sha;
insert into walk_state.graph select repo, sha, parents from _walk_changed;

delete from walk_state.missing as m using _walk_changed as c where m.repo = c.repo and m.sha = c.sha;
insert into walk_state.missing
select distinct p.repo, p.sha
from (select repo, unnest(parents) as sha from _walk_changed) as p
anti join core.commits as c using (repo, sha)
anti join walk_state.missing as m using (repo, sha);

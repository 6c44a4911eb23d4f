-- The (service, environment) pairs whose walked history no longer holds: a walked deployment changed or
-- vanished, or the repo's graph changed under it (a commit came back with other parents, or a parent or
-- deployed sha that was missing has arrived). They are walked again from scratch.
-- reads temp: _walk_changed
with changed_repos as (
    select c.repo from _walk_changed as c join walk_state.graph as g using (repo, sha)
    where c.parents <> g.parents
    union
    select c.repo from _walk_changed as c join walk_state.missing as m using (repo, sha)
    union
    select c.repo from _walk_changed as c
    join walk_state.done as w on w.repo = c.repo and w.commit_sha = c.sha
    where w.was_unknown
)

select distinct w.service, w.environment
from walk_state.done as w
left join marts.prod_deployments as d
    on d.service = w.service and d.environment = w.environment and d.env_seq = w.env_seq
where d.deployment_id is distinct from w.deployment_id
   or d.commit_sha is distinct from w.commit_sha
   or d.repo is distinct from w.repo
   or d.finished_at is distinct from w.finished_at
   or w.repo in (select repo from changed_repos)

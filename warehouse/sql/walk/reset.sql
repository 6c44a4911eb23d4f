-- The (service, environment) pairs whose walked history no longer holds: a walked deployment changed or
-- vanished, the repo's graph changed under it, the service's paths changed, or files arrived for a
-- commit already in the graph of a repo with a path-filtered service. They are walked again from scratch.
-- reads temp: _walk_changed_repos
with files_changed as (
    select distinct f.repo from core.commit_files as f
    semi join walk_state.graph as g using (repo, sha)
    where f._load_id > getvariable('since_load_id')
)

select distinct w.service, w.environment
from walk_state.done as w
left join marts.prod_deployments as d
    on d.service = w.service and d.environment = w.environment and d.env_seq = w.env_seq
left join core.services as s on s.service = w.service
where d.deployment_id is distinct from w.deployment_id
   or d.commit_sha is distinct from w.commit_sha
   or d.repo is distinct from w.repo
   or d.finished_at is distinct from w.finished_at
   or s.paths is distinct from w.paths
   or w.repo in (select repo from _walk_changed_repos)
   or (len(w.paths) > 0 and w.repo in (select repo from files_changed))

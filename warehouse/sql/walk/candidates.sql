-- For each (service, environment) with deployments to walk: the commits of its repo it has not reached
-- yet. A full walk gets whole graphs; a daily one the new commits (and any never reached).
-- reads temp: _walk_pending
with pairs as (
    select distinct service, environment, repo from _walk_pending
)

select p.service, p.environment, c.sha, c.parents
from pairs as p
join core.commits as c using (repo)
anti join marts.deployment_reach as r
    on r.service = p.service and r.environment = p.environment and r.sha = c.sha
order by p.service, p.environment

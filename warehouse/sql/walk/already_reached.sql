-- For each pending (service, environment): the candidate commits it has reached already.
with pending as (
    select distinct d.service, d.environment, d.repo
    from marts.prod_deployments as d
    anti join marts.walk_done as w using (deployment_id)
)

select r.service, r.environment, r.sha
from marts.deployment_reach as r
join pending as p using (service, environment)
join _walk_candidates as c on c.repo = r.repo and c.sha = r.sha

-- The commits the pending walks may still reach: those of each pending repo that at least one pending
-- (service, environment) has not reached yet. A full walk gets the whole graph, a daily one the new tips.
with pending as (
    select distinct d.service, d.environment, d.repo
    from marts.prod_deployments as d
    anti join marts.walk_done as w using (deployment_id)
),

pairs as (
    select repo, count(*) as pairs from pending group by repo
),

reached as (
    select r.repo, r.sha, count(*) as pairs
    from marts.deployment_reach as r
    join pending as p using (service, environment)
    group by all
)

select c.repo, c.sha, c.parents
from core.commits as c
join pairs as p using (repo)
left join reached as r using (repo, sha)
where coalesce(r.pairs, 0) < p.pairs
order by c.repo

-- Every production deployment of the (service, environment) pairs with deployments to walk, in order:
-- its floor (the last spine position it reaches; null: none, or an unknown sha), the highest floor
-- before it in its environment (-1: none), and its service's path patterns (null: every commit).
-- reads temp: _walk_pending
with pairs as (
    select distinct service, environment from _walk_pending
),

floored as (
    select
        d.deployment_id, d.service, d.environment, d.repo, d.commit_sha, d.env_seq, d.is_baseline,
        d.is_unknown_sha, p.deployment_id is not null as is_pending,
        case when not d.is_unknown_sha then f.floor end as floor,
        case when len(s.paths) > 0 and not getvariable('walk_all_commits') then s.paths end as paths
    from marts.prod_deployments as d
    semi join pairs using (service, environment)
    left join _walk_pending as p using (deployment_id)
    left join walk_state.deployed as f on f.repo = d.repo and f.sha = d.commit_sha
    left join core.services as s on s.service = d.service
)

select
    *,
    coalesce(
        max(floor) over (
            partition by service, environment order by env_seq
            rows between unbounded preceding and 1 preceding
        ),
        -1
    ) as before_max
from floored

-- grain: one row per successful production deployment (those before history_start ignored entirely)
-- env_seq orders a service's deployments to one environment, service_seq across all its production
-- environments: by finished_at, ties broken by deployment_id as text (docs/metrics.md, "Order").
with services as (
    select service, repo, coalesce(team, 'unassigned') as team from core.services
),

production as (
    select d.*, s.repo, s.team
    from core.deployments as d
    join services as s using (service)
    where d.status = 'success'
      and (
          d.environment_tier = 'production'
          or (d.environment_tier is null
              and regexp_matches(d.environment, getvariable('production_environments')))
      )
      and (getvariable('history_start') is null
           or d.finished_at >= cast(getvariable('history_start') as timestamp))
),

final as (
    select
        p.deployment_id, p.service, p.team, p.repo, p.environment, p.commit_sha,
        p.started_at, p.finished_at,
        row_number() over (
            partition by p.service, p.environment order by p.finished_at, p.deployment_id
        ) as env_seq,
        row_number() over (partition by p.service order by p.finished_at, p.deployment_id) as service_seq,
        c.sha is null as is_unknown_sha
    from production as p
    left join core.commits as c on c.repo = p.repo and c.sha = p.commit_sha
)

select *, env_seq = 1 as is_baseline from final

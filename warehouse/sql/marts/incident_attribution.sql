-- grain: one row per incident: the deployment it is attributed to (docs/metrics.md 3), by which rule,
-- and the deployment that was its fix (rework rule 3).
with incidents as (
    select i.*, coalesce(s.team, 'unassigned') as team
    from core.incidents as i
    join core.services as s using (service)
),

deployments as (
    select * from marts.prod_deployments
),

by_id as (
    select i.incident_id, d.deployment_id
    from incidents as i
    join deployments as d
        on d.deployment_id = i.deployment_id and d.service = i.service and d.finished_at <= i.created_at
),

by_sha as (
    select i.incident_id, arg_min(d.deployment_id, d.service_seq) as deployment_id
    from incidents as i
    join marts.deployment_reach as r
        on r.service = i.service and r.is_shipped and left(r.sha, 7) = left(i.commit_sha, 7)
        and starts_with(r.sha, i.commit_sha)
    join deployments as d on d.deployment_id = r.deployment_id and d.finished_at <= i.created_at
    where i.commit_sha is not null
    group by all
),

-- the latest deployment at or before created_at: ASOF finds its time, ties go to the last in order
latest_time as (
    select i.incident_id, i.service, d.finished_at
    from incidents as i
    asof join deployments as d on d.service = i.service and i.created_at >= d.finished_at
),

by_window as (
    select lt.incident_id, arg_max(d.deployment_id, d.service_seq) as deployment_id, lt.finished_at
    from latest_time as lt
    join deployments as d on d.service = lt.service and d.finished_at = lt.finished_at
    group by all
),

-- rework rule 3: the first deployment after created_at, kept when it is before resolved_at
next_time as (
    select i.incident_id, i.service, d.finished_at
    from incidents as i
    asof join deployments as d on d.service = i.service and d.finished_at > i.created_at
),

fix as (
    select nt.incident_id, arg_min(d.deployment_id, d.service_seq) as deployment_id
    from next_time as nt
    join deployments as d on d.service = nt.service and d.finished_at = nt.finished_at
    group by all
),

final as (
    select
        i.incident_id, i.service, i.team, i.title, i.severity, i.created_at, i.resolved_at,
        i.deployment_id as linked_deployment_id, i.commit_sha as linked_commit_sha,
        coalesce(
            bi.deployment_id, bs.deployment_id,
            case when epoch(i.created_at - bw.finished_at) / 3600.0 <= getvariable('attribution_window_hours')
                then bw.deployment_id end
        ) as deployment_id,
        case
            when bi.deployment_id is not null then 'deployment_id'
            when bs.deployment_id is not null then 'commit_sha'
            when epoch(i.created_at - bw.finished_at) / 3600.0 <= getvariable('attribution_window_hours')
                then 'time window'
        end as attributed_by,
        case when fd.finished_at < i.resolved_at or i.resolved_at is null then f.deployment_id end
            as fix_deployment_id,
        epoch(i.resolved_at - i.created_at) / 3600.0 as time_to_resolve_hours
    from incidents as i
    left join by_id as bi using (incident_id)
    left join by_sha as bs using (incident_id)
    left join by_window as bw using (incident_id)
    left join fix as f using (incident_id)
    left join deployments as fd on fd.deployment_id = f.deployment_id
)

select *, deployment_id is null as is_unattributed from final

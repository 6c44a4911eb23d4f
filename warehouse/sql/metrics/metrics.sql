-- grain: one row per group of _scope; the period is [period_start, period_end) in UTC.
-- Rows are assigned to the period holding their deployment's finished_at (incidents: created_at for
-- attribution, resolved_at for time to resolve).
with groups as (
    select distinct grp from _scope
),

deployments as (
    select s.grp, d.*
    from marts.deployments as d
    join _scope as s using (service)
    where d.finished_at >= getvariable('period_start') and d.finished_at < getvariable('period_end')
      and (getvariable('environments') is null or list_contains(getvariable('environments'), d.environment))
),

deployment_stats as (
    select
        grp,
        count(*) as deployments,
        count(distinct cast(finished_at as date)) as deployment_days,
        count(*) filter (where is_baseline) as baseline_deployments,
        count(*) filter (where is_unknown_sha) as unknown_sha_deployments,
        count(*) filter (where is_failed) as failed_deployments,
        quantile_cont(recovery_hours, 0.5) filter (where is_failed and not is_unrecovered)
            as recovery_time_median_hours,
        count(*) filter (where is_failed and is_unrecovered) as unrecovered_failures,
        count(*) filter (where is_unplanned) as unplanned_deployments
    from deployments
    group by grp
),

-- ISO weeks (Monday to Sunday) lying wholly inside the period
weeks as (
    select cast(week_start as date) as week_start
    from generate_series(
        cast(getvariable('period_start') as date)
            + cast((8 - isodow(cast(getvariable('period_start') as date))) % 7 as integer),
        cast(getvariable('period_end') as date) - 7,
        interval 7 day
    ) as t(week_start)
),

week_days as (
    select grp, date_trunc('week', finished_at) as week_start, count(distinct cast(finished_at as date)) as days
    from deployments
    group by all
),

weekly as (
    select g.grp, quantile_cont(coalesce(wd.days, 0), 0.5) as deploy_days_per_week_median
    from groups as g
    cross join weeks as w
    left join week_days as wd on wd.grp = g.grp and cast(wd.week_start as date) = w.week_start
    group by g.grp
),

changes as (
    select s.grp, c.*
    from marts.changes as c
    join _scope as s using (service)
    where c.finished_at >= getvariable('period_start') and c.finished_at < getvariable('period_end')
      and (getvariable('environments') is null or list_contains(getvariable('environments'), c.environment))
),

change_stats as (
    select
        grp,
        count(*) filter (where not is_excluded) as changes,
        count(*) filter (where is_excluded) as lead_time_excluded,
        quantile_cont(lead_time_hours, 0.5) filter (where not is_excluded) as lead_time_median_hours,
        quantile_cont(lead_time_hours, 0.9) filter (where not is_excluded) as lead_time_p90_hours,
        quantile_cont(coding_hours, 0.5) filter (where not is_excluded) as coding_median_hours,
        quantile_cont(pickup_hours, 0.5) filter (where not is_excluded) as pickup_median_hours,
        quantile_cont(review_hours, 0.5) filter (where not is_excluded) as review_median_hours,
        quantile_cont(deploy_hours, 0.5) filter (where not is_excluded) as deploy_median_hours
    from changes
    group by grp
),

incidents as (
    select s.grp, i.*
    from marts.incident_attribution as i
    join _scope as s using (service)
),

incident_stats as (
    select
        grp,
        quantile_cont(time_to_resolve_hours, 0.5) filter (
            where resolved_at >= getvariable('period_start') and resolved_at < getvariable('period_end')
        ) as incident_mttr_median_hours,
        count(*) filter (
            where is_unattributed
              and created_at >= getvariable('period_start') and created_at < getvariable('period_end')
        ) as unattributed_incidents
    from incidents
    group by grp
)

select
    g.grp as "group",
    coalesce(d.deployments, 0) as deployments,
    coalesce(d.deployments, 0) / getvariable('period_days') as deploys_per_day,
    coalesce(d.deployment_days, 0) as deployment_days,
    w.deploy_days_per_week_median,
    coalesce(d.baseline_deployments, 0) as baseline_deployments,
    coalesce(d.unknown_sha_deployments, 0) as unknown_sha_deployments,
    coalesce(c.changes, 0) as changes,
    c.lead_time_median_hours,
    c.lead_time_p90_hours,
    coalesce(c.lead_time_excluded, 0) as lead_time_excluded,
    c.coding_median_hours,
    c.pickup_median_hours,
    c.review_median_hours,
    c.deploy_median_hours,
    coalesce(d.failed_deployments, 0) as failed_deployments,
    d.failed_deployments / nullif(d.deployments, 0) as change_failure_rate,
    d.recovery_time_median_hours,
    coalesce(d.unrecovered_failures, 0) as unrecovered_failures,
    i.incident_mttr_median_hours,
    coalesce(d.unplanned_deployments, 0) as unplanned_deployments,
    d.unplanned_deployments / nullif(d.deployments, 0) as rework_rate,
    coalesce(i.unattributed_incidents, 0) as unattributed_incidents
from groups as g
left join deployment_stats as d using (grp)
left join weekly as w using (grp)
left join change_stats as c using (grp)
left join incident_stats as i using (grp)
order by g.grp

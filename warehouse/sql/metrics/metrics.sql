-- grain: one row per group of _scope: the metrics of the period [period_start, period_end) in UTC. The
-- deployment and change metrics are those of buckets.sql (the view _buckets) with the period as its one
-- bucket; the weekly median and the incident metrics are of the period only. Incidents count by
-- created_at for attribution, by resolved_at for time to resolve.
-- reads temp: _scope, _buckets, _period_deployments
with groups as (
    select distinct grp from _scope
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
    from _period_deployments
    group by all
),

weekly as (
    select g.grp, quantile_cont(coalesce(wd.days, 0), 0.5) as deploy_days_per_week_median
    from groups as g
    cross join weeks as w
    left join week_days as wd on wd.grp = g.grp and cast(wd.week_start as date) = w.week_start
    group by g.grp
),

incident_stats as (
    select
        s.grp,
        quantile_cont(i.time_to_resolve_hours, 0.5) filter (where in_period(i.resolved_at))
            as incident_mttr_median_hours,
        count(*) filter (where i.is_unattributed and in_period(i.created_at)) as unattributed_incidents
    from marts.incident_attribution as i
    join _scope as s using (service)
    group by s.grp
)

select
    b."group",
    b.deployments,
    b.deploys_per_day,
    b.deployment_days,
    w.deploy_days_per_week_median,
    b.baseline_deployments,
    b.unknown_sha_deployments,
    b.changes,
    b.lead_time_median_hours,
    b.lead_time_p90_hours,
    b.lead_time_excluded,
    b.coding_median_hours,
    b.pickup_median_hours,
    b.review_median_hours,
    b.deploy_median_hours,
    b.failed_deployments,
    b.change_failure_rate,
    b.recovery_time_median_hours,
    b.unrecovered_failures,
    i.incident_mttr_median_hours,
    b.unplanned_deployments,
    b.rework_rate,
    coalesce(i.unattributed_incidents, 0) as unattributed_incidents
from _buckets as b
left join weekly as w on w.grp = b."group"
left join incident_stats as i on i.grp = b."group"
order by b."group"

-- grain: one row per (group of _scope, bucket): a bucket is the ISO week (Monday) or the day holding
-- the rows, clipped to the period [period_start, period_end); buckets without data are present with zero
-- counts and null medians and rates. Rows are assigned to buckets like metrics.sql assigns them to periods.
with groups as (
    select distinct grp from _scope
),

buckets as (
    select
        cast(date_trunc(getvariable('trend_grain'), day) as date) as bucket_start,
        count(*) as days
    from generate_series(
        cast(getvariable('period_start') as date), cast(getvariable('period_end') as date) - 1, interval 1 day
    ) as t(day)
    group by all
),

deployments as (
    select s.grp, cast(date_trunc(getvariable('trend_grain'), d.finished_at) as date) as bucket_start, d.*
    from marts.deployments as d
    join _scope as s using (service)
    where d.finished_at >= getvariable('period_start') and d.finished_at < getvariable('period_end')
      and (getvariable('environments') is null or list_contains(getvariable('environments'), d.environment))
),

deployment_stats as (
    select
        grp,
        bucket_start,
        count(*) as deployments,
        count(distinct cast(finished_at as date)) as deployment_days,
        count(*) filter (where is_failed) as failed_deployments,
        quantile_cont(recovery_hours, 0.5) filter (where is_failed and not is_unrecovered)
            as recovery_time_median_hours,
        count(*) filter (where is_failed and is_unrecovered) as unrecovered_failures,
        count(*) filter (where is_unplanned) as unplanned_deployments
    from deployments
    group by all
),

changes as (
    select s.grp, cast(date_trunc(getvariable('trend_grain'), c.finished_at) as date) as bucket_start, c.*
    from marts.changes as c
    join _scope as s using (service)
    where c.finished_at >= getvariable('period_start') and c.finished_at < getvariable('period_end')
      and (getvariable('environments') is null or list_contains(getvariable('environments'), c.environment))
      and not c.is_excluded
),

change_stats as (
    select
        grp,
        bucket_start,
        count(*) as changes,
        quantile_cont(lead_time_hours, 0.5) as lead_time_median_hours,
        quantile_cont(lead_time_hours, 0.9) as lead_time_p90_hours,
        quantile_cont(coding_hours, 0.5) as coding_median_hours,
        quantile_cont(pickup_hours, 0.5) as pickup_median_hours,
        quantile_cont(review_hours, 0.5) as review_median_hours,
        quantile_cont(deploy_hours, 0.5) as deploy_median_hours
    from changes
    group by all
)

select
    g.grp as "group",
    b.bucket_start,
    b.days,
    coalesce(d.deployments, 0) as deployments,
    coalesce(d.deployments, 0) / b.days as deploys_per_day,
    coalesce(d.deployment_days, 0) as deployment_days,
    coalesce(c.changes, 0) as changes,
    c.lead_time_median_hours,
    c.lead_time_p90_hours,
    c.coding_median_hours,
    c.pickup_median_hours,
    c.review_median_hours,
    c.deploy_median_hours,
    coalesce(d.failed_deployments, 0) as failed_deployments,
    d.failed_deployments / nullif(d.deployments, 0) as change_failure_rate,
    d.recovery_time_median_hours,
    coalesce(d.unrecovered_failures, 0) as unrecovered_failures,
    coalesce(d.unplanned_deployments, 0) as unplanned_deployments,
    d.unplanned_deployments / nullif(d.deployments, 0) as rework_rate
from groups as g
cross join buckets as b
left join deployment_stats as d on d.grp = g.grp and d.bucket_start = b.bucket_start
left join change_stats as c on c.grp = g.grp and c.bucket_start = b.bucket_start
order by g.grp, b.bucket_start

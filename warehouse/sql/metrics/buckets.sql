-- grain: one row per (group of _scope, bucket): the deployment and change metrics of each bucket (see
-- bucket_of in period.sql), clipped to the period; buckets without data are present with zero counts and
-- null medians and rates. `dora metrics` is this with one bucket, the period (metrics.sql); a trend is
-- this per ISO week or day.
-- reads temp: _scope, _period_deployments, _period_changes
with groups as (
    select distinct grp from _scope
),

buckets as (
    select bucket_of(day) as bucket_start, count(*) as days
    from generate_series(
        cast(getvariable('period_start') as date), cast(getvariable('period_end') as date) - 1, interval 1 day
    ) as t(day)
    group by all
),

deployment_stats as (
    select
        grp,
        bucket_start,
        count(*) as deployments,
        count(distinct cast(finished_at as date)) as deployment_days,
        count(*) filter (where is_baseline) as baseline_deployments,
        count(*) filter (where is_unknown_sha) as unknown_sha_deployments,
        count(*) filter (where is_failed) as failed_deployments,
        quantile_cont(recovery_hours, 0.5) filter (where is_failed and not is_unrecovered)
            as recovery_time_median_hours,
        count(*) filter (where is_failed and is_unrecovered) as unrecovered_failures,
        count(*) filter (where is_unplanned) as unplanned_deployments
    from _period_deployments
    group by all
),

change_stats as (
    select
        grp,
        bucket_start,
        count(*) filter (where not is_excluded) as changes,
        count(*) filter (where is_excluded) as lead_time_excluded,
        quantile_cont(lead_time_hours, 0.5) filter (where not is_excluded) as lead_time_median_hours,
        quantile_cont(lead_time_hours, 0.9) filter (where not is_excluded) as lead_time_p90_hours,
        quantile_cont(coding_hours, 0.5) filter (where not is_excluded) as coding_median_hours,
        quantile_cont(pickup_hours, 0.5) filter (where not is_excluded) as pickup_median_hours,
        quantile_cont(review_hours, 0.5) filter (where not is_excluded) as review_median_hours,
        quantile_cont(deploy_hours, 0.5) filter (where not is_excluded) as deploy_median_hours
    from _period_changes
    group by all
)

select
    g.grp as "group",
    b.bucket_start,
    b.days,
    coalesce(d.deployments, 0) as deployments,
    coalesce(d.deployments, 0) / b.days as deploys_per_day,
    coalesce(d.deployment_days, 0) as deployment_days,
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
    coalesce(d.unplanned_deployments, 0) as unplanned_deployments,
    d.unplanned_deployments / nullif(d.deployments, 0) as rework_rate
from groups as g
cross join buckets as b
left join deployment_stats as d on d.grp = g.grp and d.bucket_start = b.bucket_start
left join change_stats as c on c.grp = g.grp and c.bucket_start = b.bucket_start
order by g.grp, b.bucket_start

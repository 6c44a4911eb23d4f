-- grain: one row per (service of _scope, pipeline, bucket) with runs: CI runs by the bucket (ISO week or
-- day) holding their start (their finish when the start is unknown), inside the period.
with runs as (
    select
        r.service,
        coalesce(r.pipeline, '(unnamed)') as pipeline,
        cast(date_trunc(getvariable('trend_grain'), coalesce(r.started_at, r.finished_at)) as date)
            as bucket_start,
        r.status,
        epoch(r.finished_at - r.started_at) / 60.0 as duration_minutes
    from core.pipeline_runs as r
    join _scope as s using (service)
    where coalesce(r.started_at, r.finished_at) >= getvariable('period_start')
      and coalesce(r.started_at, r.finished_at) < getvariable('period_end')
)

select
    service,
    pipeline,
    bucket_start,
    count(*) as runs,
    count(*) filter (where status = 'failure') as failed_runs,
    count(*) filter (where status = 'cancelled') as cancelled_runs,
    count(*) filter (where status = 'failure') / nullif(count(*) filter (where status <> 'cancelled'), 0)
        as failure_rate,
    quantile_cont(duration_minutes, 0.5) filter (where duration_minutes >= 0) as duration_median_minutes,
    quantile_cont(duration_minutes, 0.9) filter (where duration_minutes >= 0) as duration_p90_minutes
from runs
group by all
order by service, pipeline, bucket_start

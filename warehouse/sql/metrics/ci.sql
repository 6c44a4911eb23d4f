-- grain: one row per (service of _scope, pipeline, bucket) with runs: CI runs by the bucket (see bucket_of
-- in period.sql: ISO week, day, or the whole period) holding their start (their finish when the start is
-- unknown), inside the period; the failure rate leaves cancelled runs out.
-- reads temp: _scope
with runs as (
    select
        r.service,
        coalesce(r.pipeline, '(unnamed)') as pipeline,
        coalesce(r.started_at, r.finished_at) as run_at,
        r.status,
        epoch(r.finished_at - r.started_at) / 60.0 as duration_minutes
    from core.pipeline_runs as r
    join _scope as s using (service)
    where in_period(coalesce(r.started_at, r.finished_at))
)

select
    service,
    pipeline,
    bucket_of(run_at) as bucket_start,
    count(*) as runs,
    count(*) filter (where status = 'failure') as failed_runs,
    count(*) filter (where status = 'cancelled') as cancelled_runs,
    count(*) filter (where status = 'failure') / nullif(count(*) filter (where status <> 'cancelled'), 0)
        as failure_rate,
    quantile_cont(duration_minutes, 0.5) filter (where duration_minutes >= 0) as duration_median_minutes,
    quantile_cont(duration_minutes, 0.9) filter (where duration_minutes >= 0) as duration_p90_minutes,
    max(run_at) as last_run_at
from runs
group by all
order by service, pipeline, bucket_start

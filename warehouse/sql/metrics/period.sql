-- What every metrics query shares: the period [period_start, period_end) in UTC, the environments chosen,
-- the bucket a time falls in, and the deployments and changes of the period in scope.
-- reads temp: _scope
create or replace temp macro in_period(t) as
    t >= getvariable('period_start') and t < getvariable('period_end');

-- (the cast: a variable set to null is typed INTEGER on DuckDB 1.4, which list_contains refuses)
create or replace temp macro in_environments(e) as
    getvariable('environments') is null or list_contains(cast(getvariable('environments') as varchar[]), e);

-- The ISO week (Monday) or day holding t, as the variable bucket says; with bucket null, the whole
-- period is one bucket (the metrics of the period are the trend of one bucket).
create or replace temp macro bucket_of(t) as
    coalesce(cast(date_trunc(getvariable('bucket'), t) as date), cast(getvariable('period_start') as date));

-- grain: one row per successful production deployment of the period, with the group of _scope it is
-- pooled into and its bucket: a deployment counts where its finished_at falls
create or replace temp view _period_deployments as
select s.grp, bucket_of(d.finished_at) as bucket_start, d.*
from marts.deployments as d
join _scope as s using (service)
where in_period(d.finished_at) and in_environments(d.environment);

-- grain: one row per (service, change) whose first production deployment finished in the period
create or replace temp view _period_changes as
select s.grp, bucket_of(c.finished_at) as bucket_start, c.*
from marts.changes as c
join _scope as s using (service)
where in_period(c.finished_at) and in_environments(c.environment);

-- grain: one row per deployment attempt. Each service deploys at its own pace (weights), in time order;
-- a deployment ships the newest default-branch commit at least 10 minutes old, so production walks
-- forward along the graph. Mixed in: staging deployments, failed attempts, and rollbacks that redeploy
-- the sha from before the previous production deployment.
create or replace temp table g_deployments as
with weights as (
    select s, (sum(deploy_weight) over (order by s) - deploy_weight) / sum(deploy_weight) over () as lo
    from g_services
),
draws as (
    select j, u('dservice', j) as x from range(getvariable('n_deployments')) t(j)
),
assigned as (
    select d.j, w.s from draws d asof join weights w on d.x >= w.lo
),
indexed as (
    select j, s,
        row_number() over (partition by s order by j) as i,
        count(*) over (partition by s) as cnt
    from assigned
),
timed as (
    -- the first day is left to commits only, so every deployment has a commit to ship
    select *,
        getvariable('start_us') + 86400000000
        + (((i - 0.5 + 0.8 * (u('djitter', j) - 0.5)) / cnt) * (getvariable('span_us') - 86400000000))::bigint
            as raw_us
    from indexed
),
shifts as (
    -- days from a Saturday (6) or Sunday (0) to Monday, plus 0-4 more
    select *,
        (case dayofweek(make_timestamp(raw_us)) when 6 then 2 else 1 end)
        + (hash(getvariable('seed'), 'weekday', j) % 5)::bigint as weekday_shift
    from timed
),
weekdays as (
    -- most weekend deployments move to a weekday of the following week: realistic deploy days per week
    select *,
        case when u('weekend', j) < 0.75 and dayofweek(make_timestamp(raw_us)) in (0, 6)
                  and raw_us + weekday_shift * 86400000000 < getvariable('start_us') + getvariable('span_us')
             then raw_us + weekday_shift * 86400000000
             else raw_us end as finished_us,
        case when u('dkind', j) < 0.15 then 'staging'
             when u('dkind', j) < 0.17 then 'failure'
             when u('dkind', j) < 0.18 then 'rollback'
             else 'normal' end as kind
    from shifts
),
main_commits as (
    select s, committed_us, sha from g_commits where is_main
),
first_main as (
    select s, arg_min(sha, committed_us) as first_sha from main_commits group by s
),
shipped as (
    select w.*, coalesce(m.sha, f.first_sha) as forward_sha
    from weekdays w
    asof left join main_commits m on m.s = w.s and w.finished_us - 600000000 >= m.committed_us
    left join first_main f on f.s = w.s
),
rolled as (
    select *,
        case when kind = 'rollback'
             then coalesce(lag(forward_sha, 2) over (partition by s, kind in ('normal', 'rollback')
                                                     order by finished_us, j), forward_sha)
             else forward_sha end as commit_sha
    from shipped
)
select
    r.j, r.s, r.kind,
    'deploy-' || r.j as deployment_id,
    sv.service,
    case when r.kind = 'staging' then 'staging' when sv.uses_prod_name then 'prod' else 'production' end
        as environment,
    case when r.kind = 'staging' then 'staging' when sv.uses_prod_name then null else 'production' end
        as environment_tier,
    r.commit_sha,
    r.finished_us - (180 + u('duration', r.j) * 900)::bigint * 1000000 as started_us,
    r.finished_us,
    case when r.kind = 'failure' then 'failure' else 'success' end as status
from rolled r
join g_services sv using (s)

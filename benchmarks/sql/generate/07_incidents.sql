-- grain: one row per incident. Most start hours after a production deployment (some linked to it by id
-- or by a commit prefix); some start at random times (infrastructure, not changes); a few stay open.
-- Rarely deployed services are where incidents end up unattributed.
create or replace temp table g_incidents as
with prod as (
    select *, row_number() over (order by j) - 1 as pidx
    from g_deployments
    where status = 'success' and kind <> 'staging'
),
draws as (
    select i,
        (hash(getvariable('seed'), 'anchor', i) % (select count(*) from prod))::bigint as pidx,
        u('random_time', i) < 0.15 as at_random
    from range(getvariable('n_incidents')) t(i)
),
placed as (
    select d.i, d.at_random,
        case when d.at_random then (hash(getvariable('seed'), 'iservice', d.i) % getvariable('n_services'))::bigint
             else p.s end as s,
        p.deployment_id as anchor_id, p.commit_sha as anchor_sha,
        least(
            case when d.at_random then getvariable('start_us') + (u('itime', d.i) * getvariable('span_us'))::bigint
                 else p.finished_us + 60000000 + expo_us('idelay', d.i, 6) end,
            getvariable('start_us') + getvariable('span_us') - 1000000
        ) as created_us
    from draws d join prod p using (pidx)
),
resolved as (
    select *,
        case when u('open', i) < 0.03 then null
             else created_us + 300000000 + expo_us('iresolve', i, 3) end as resolved_raw_us
    from placed
)
select
    r.i, r.s,
    'inc-' || r.i as incident_id,
    sv.service,
    pick(['Elevated error rate', 'Latency above SLO', 'Checkout failures', 'Queue backlog growing',
          'Pod crash loop'], 'ititle', r.i) || ' on ' || sv.service as title,
    pick(['sev1', 'sev2', 'sev2', 'sev3', 'sev3', 'sev3', 'sev4'], 'severity', r.i) as severity,
    r.created_us,
    -- a resolution after the end of the data has not happened yet: the incident is open
    case when r.resolved_raw_us < getvariable('start_us') + getvariable('span_us') then r.resolved_raw_us end
        as resolved_us,
    case when not r.at_random and u('link', r.i) < 0.25 then r.anchor_id end as deployment_id,
    case when not r.at_random and u('link', r.i) between 0.25 and 0.35 then left(r.anchor_sha, 12) end
        as commit_sha
from resolved r
join g_services sv using (s)

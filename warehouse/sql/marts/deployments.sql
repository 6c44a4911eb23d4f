-- grain: one row per successful production deployment, with what it shipped, whether it failed and
-- by which signals (docs/metrics.md 3), its recovery (4) and whether it was unplanned (5).
with deployments as (
    select * from marts.prod_deployments
),

shipped as (
    select * from marts.deployment_stats
),

ordered as (
    select
        d.*,
        coalesce(s.shipped_commits, 0) as shipped_commits,
        coalesce(s.ships_hotfix, false) as ships_hotfix,
        coalesce(s.ships_revert, false) as ships_revert,
        min(d.env_seq) over (partition by d.service, d.environment, d.commit_sha) as first_seq_of_sha,
        lag(d.commit_sha) over env as previous_sha
    from deployments as d
    left join shipped as s using (deployment_id)
    window env as (partition by d.service, d.environment order by d.env_seq)
),

flagged as (
    select
        *,
        -- a rollback deploys a sha other than the previous deployment's that was live before it
        coalesce(commit_sha <> previous_sha and first_seq_of_sha < env_seq - 1, false) as is_rollback
    from ordered
),

with_next as (
    select
        *,
        lead(deployment_id) over env as next_deployment_id,
        lead(finished_at) over env as next_finished_at,
        coalesce(lead(is_rollback) over env, false) as is_rolled_back,
        coalesce(lead(ships_hotfix) over env, false) as is_hotfixed
    from flagged
    window env as (partition by service, environment order by env_seq)
),

reverts as (
    select r.deployment_id, r.service, r.environment, unnest(cc.reverted_prefixes) as prefix
    from marts.deployment_reach as r
    join marts.commit_changes as cc on cc.repo = r.repo and cc.sha = r.sha
    where r.is_shipped and cc.is_revert
),

reverted as (
    select
        s.deployment_id,
        arg_min(l.deployment_id, l.env_seq) as reverted_by,
        min(l.finished_at) as reverted_at
    from marts.deployment_reach as s
    join reverts as rv
        on rv.service = s.service and rv.environment = s.environment
        and left(s.sha, 7) = left(rv.prefix, 7) and starts_with(s.sha, rv.prefix)
    join deployments as d on d.deployment_id = s.deployment_id
    join deployments as l on l.deployment_id = rv.deployment_id and l.env_seq > d.env_seq
    where s.is_shipped
    group by all
),

incidents as (
    select
        deployment_id,
        count(*) as incidents,
        count(*) filter (where resolved_at is null) as open_incidents,
        max(resolved_at) as last_resolved_at,
        list(incident_id order by created_at, incident_id) as incident_ids
    from marts.incident_attribution
    where deployment_id is not null
    group by all
),

fixes as (
    select distinct fix_deployment_id as deployment_id from marts.incident_attribution
    where fix_deployment_id is not null
),

signals as (
    select
        w.*,
        coalesce(i.incidents, 0) as incidents,
        i.incident_ids,
        rv.reverted_by, rv.reverted_at,
        coalesce(i.incidents, 0) > 0 as has_incident,
        rv.reverted_by is not null as is_reverted,
        f.deployment_id is not null as is_incident_fix,
        -- the earliest deployment that made this one failed, for recovery without incidents: the next
        -- one (a rollback or a hotfix) unless a revert came first
        case
            when (w.is_rolled_back or w.is_hotfixed)
                and (rv.reverted_at is null or w.next_finished_at <= rv.reverted_at)
                then {'remediated_at': w.next_finished_at, 'remediated_by': w.next_deployment_id}
            else {'remediated_at': rv.reverted_at, 'remediated_by': rv.reverted_by}
        end as remediation,
        i.open_incidents, i.last_resolved_at
    from with_next as w
    left join incidents as i using (deployment_id)
    left join reverted as rv using (deployment_id)
    left join fixes as f using (deployment_id)
),

final as (
    select
        deployment_id, service, team, repo, environment, commit_sha, started_at, finished_at,
        env_seq, service_seq, is_baseline, is_unknown_sha, shipped_commits,
        has_incident, is_rolled_back, is_reverted, is_hotfixed,
        has_incident or is_rolled_back or is_reverted or is_hotfixed as is_failed,
        list_filter(
            [case when has_incident then 'incident' end, case when is_rolled_back then 'rollback' end,
             case when is_reverted then 'revert' end, case when is_hotfixed then 'hotfix' end],
            lambda s: s is not null
        ) as failure_signals,
        incident_ids, remediation.remediated_by,
        case
            when has_incident then (case when open_incidents = 0 then last_resolved_at end)
            when is_rolled_back or is_reverted or is_hotfixed then remediation.remediated_at
        end as recovered_at,
        has_incident and open_incidents > 0 as is_unrecovered,
        is_rollback, ships_revert, ships_hotfix, is_incident_fix,
        is_rollback or ships_revert or ships_hotfix or is_incident_fix as is_unplanned,
        list_filter(
            [case when is_rollback then 'rollback' end, case when ships_revert then 'revert' end,
             case when ships_hotfix then 'hotfix' end, case when is_incident_fix then 'incident fix' end],
            lambda s: s is not null
        ) as unplanned_reasons
    from signals
)

select *, epoch(recovered_at - finished_at) / 3600.0 as recovery_hours from final

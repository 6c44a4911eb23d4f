-- grain: one row per (service, change): the change as counted at the first production deployment of
-- the service that shipped any of its commits, with its lead time and PR stages. Derived for the
-- changes in _affected_changes (all of them on a full rebuild, since_load_id -1: every row was written
-- since, and the commits of every change are read whole instead of matched against every key).
-- reads temp: _affected_changes
with deployments as (
    select * from marts.prod_deployments
),

-- (read where it is used: a table scan is cheaper than holding its rows)
affected as not materialized (
    select change_id, repo, sha, pr_number, title, author, authored_at from marts.commit_changes
    where getvariable('since_load_id') < 0 and change_id is not null
    union all
    select change_id, repo, sha, pr_number, title, author, authored_at from marts.commit_changes
    where getvariable('since_load_id') >= 0 and change_id in (select change_id from _affected_changes)
),

shipped as (
    select d.service, cc.change_id, d.deployment_id, d.service_seq, d.finished_at
    from marts.deployment_reach as r
    join affected as cc on cc.repo = r.repo and cc.sha = r.sha
    join deployments as d on d.deployment_id = r.deployment_id
    where r.is_shipped and cc.change_id is not null
),

first_shipped as (
    select
        service, change_id,
        arg_min(deployment_id, service_seq) as deployment_id,
        arg_min(finished_at, service_seq) as finished_at,
        count(*) as shipped_commits
    from shipped
    group by all
),

-- the commits of the pull requests whose first commit time is unknown: it is then the first authored
-- of their commits (a known first_commit_at is used as it is, so the others' commits are never read)
unknown_start as not materialized (
    select repo, number, merged_at, merge_commit_sha from core.pull_requests where first_commit_at is null
),

pr_commits as not materialized (
    select repo, number, sha from core.pull_request_commits semi join unknown_start using (repo, number)
    union all
    select repo, number, merge_commit_sha from unknown_start
    where merged_at is not null and merge_commit_sha is not null
),

-- those pull requests' first commit times: on a full rebuild of every one (those of no change are never
-- read), otherwise of those of the affected commits
pr_commit_times as (
    select pc.repo, pc.number, min(c.authored_at) as first_authored_at
    from (
        select * from pr_commits where getvariable('since_load_id') < 0
        union all
        select * from pr_commits
        semi join (select distinct repo, pr_number as number from affected) using (repo, number)
        where getvariable('since_load_id') >= 0
    ) as pc
    join core.commits as c on c.repo = pc.repo and c.sha = pc.sha
    group by all
),

change_facts as (
    select
        f.*,
        d.environment, d.repo,
        cc.pr_number, cc.sha as commit_sha,
        coalesce(p.title, cc.title) as title,
        coalesce(p.author, cc.author) as author,
        p.created_at, p.first_commit_at, p.first_review_at, p.merged_at, p.head_branch,
        coalesce(p.first_commit_at, t.first_authored_at) as first_commit_time,
        cc.authored_at
    from first_shipped as f
    join deployments as d using (deployment_id)
    -- one row per change: for a PR its number is enough; a commit change has one commit (so only the
    -- PRs' commits are grouped, and by their number rather than the longer change_id). A PR's lowest sha
    -- stands for its commits; its authored_at is never read (a PR starts from its own times).
    join (
        select change_id, repo, pr_number, sha, title, author, authored_at
        from affected where pr_number is null and change_id is not null
        union all
        select any_value(change_id), repo, pr_number, min(sha), arg_min(title, sha), arg_min(author, sha), null
        from affected where pr_number is not null
        group by repo, pr_number
    ) as cc using (change_id)
    left join core.pull_requests as p on p.repo = cc.repo and p.number = cc.pr_number
    left join pr_commit_times as t on t.repo = cc.repo and t.number = cc.pr_number
),

started as (
    select
        *,
        case
            when pr_number is null then authored_at
            when getvariable('lead_time_start') = 'pr_opened' then created_at
            when getvariable('lead_time_start') = 'merged' then merged_at
            else least(created_at, first_commit_time)
        end as started_at
    from change_facts
),

final as (
    select
        service, change_id, deployment_id, environment, finished_at, repo, pr_number,
        case when pr_number is null then commit_sha end as commit_sha,
        title, author, head_branch, shipped_commits,
        started_at, created_at, first_commit_at, first_review_at, merged_at,
        epoch(finished_at - started_at) / 3600.0 as lead_time_hours,
        started_at is null or finished_at < started_at as is_excluded,
        case
            when started_at is null then 'start unknown'
            when finished_at < started_at then 'negative lead time'
        end as excluded_reason
    from started
)

select
    *,
    -- a stage with an end missing or negative is null (docs/metrics.md 2, PR stages)
    case when pr_number is not null and created_at >= first_commit_at
        then epoch(created_at - first_commit_at) / 3600.0 end as coding_hours,
    case when pr_number is not null and first_review_at >= created_at
        then epoch(first_review_at - created_at) / 3600.0 end as pickup_hours,
    case when pr_number is not null and merged_at >= first_review_at
        then epoch(merged_at - first_review_at) / 3600.0 end as review_hours,
    case when pr_number is not null and finished_at >= merged_at
        then epoch(finished_at - merged_at) / 3600.0 end as deploy_hours
from final

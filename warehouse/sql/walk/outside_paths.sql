-- The commits a deployment reached first but did not ship because none of the files they changed is in
-- its service's paths (METRICS.md "Service paths"), with how many each deployment has.
-- reads temp: _explain_all, _explain_in
with outside as (
    select a.deployment_id, a.service, a.environment, a.repo, a.sha
    from _explain_all as a
    anti join _explain_in as i using (deployment_id, sha)
    where a.is_shipped
),

files as (
    select f.repo, f.sha, list(f.path order by f.path) as files
    from core.commit_files as f
    semi join outside as o using (repo, sha)
    group by all
)

select
    o.deployment_id, o.service, o.environment, d.finished_at,
    count(*) over (partition by o.deployment_id) as outside_commits,
    o.sha as commit_sha, c.authored_at,
    rtrim(split_part(coalesce(c.message, ''), chr(10), 1), chr(13)) as title,
    coalesce(f.files, []) as files
from outside as o
join marts.prod_deployments as d using (deployment_id)
left join core.commits as c on c.repo = o.repo and c.sha = o.sha
left join files as f on f.repo = o.repo and f.sha = o.sha
order by d.finished_at, o.deployment_id, c.authored_at, o.sha

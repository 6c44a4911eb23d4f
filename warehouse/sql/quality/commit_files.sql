-- File data of the repositories that have a path-filtered service (BUNDLE.md "Monorepos"): per repository,
-- its commits committed in [$start, $end) (merge commits aside: git lists no files for them) and how many
-- of them have no row in core.commit_files. Such a commit counts for none of the path-filtered services.
-- $services: the services shown (null = all); a repository is listed when one of them is path-filtered.
with filtered as (
    select repo, count(*) as path_filtered_services
    from core.services
    where len(paths) > 0 and repo is not null
        and ($services is null or list_contains($services, service))
    group by repo
),
period_commits as (
    select c.repo, c.sha
    from core.commits as c
    semi join filtered using (repo)
    where len(c.parents) <= 1
        and coalesce(c.committed_at, c.authored_at) >= $start
        and coalesce(c.committed_at, c.authored_at) < $end
),
with_files as (
    select distinct repo, sha from core.commit_files semi join filtered using (repo)
)
select
    f.repo,
    f.path_filtered_services,
    count(c.sha) as commits,
    count(c.sha) filter (where w.sha is null) as without_files
from filtered as f
left join period_commits as c using (repo)
left join with_files as w on w.repo = c.repo and w.sha = c.sha
group by all
order by without_files desc, f.repo

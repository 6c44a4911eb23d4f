-- The candidate commits in each path-filtered service (METRICS.md "Service paths"): a file the commit
-- changed matches one of the service's patterns. Patterns become LIKE patterns (`*`: any run of
-- characters, `/` included; `?`: one character), and a file meets only the patterns whose literal start
-- it begins with (an equality join on that start), not every pattern of the repo.
-- reads temp: _walk_steps, _walk_candidates
with patterns as (
    select
        service, repo, regexp_extract(pattern, '^[^*?]*') as head,
        replace(replace(replace(replace(replace(
            pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') as like_pattern
    from (select distinct service, repo, unnest(paths) as pattern from _walk_steps where paths is not null)
),

heads as (
    select distinct repo, length(head) as n from patterns
),

files as (
    select f.repo, f.sha, f.path, h.n, left(f.path, h.n) as head
    from core.commit_files as f
    semi join _walk_candidates as c using (repo, sha)
    join heads as h using (repo)
)

select distinct p.service, f.repo, f.sha
from files as f
join patterns as p on p.repo = f.repo and length(p.head) = f.n and p.head = f.head
where f.path like p.like_pattern escape '\'

-- The commits of the graph without a position that the commits to place reach through such commits
-- (only they can take a position from a spine extension), with their parents (from core.commits: the
-- graph keeps only their hash), ordered by repo.
-- reads temp: _walk_new
with recursive reached(repo, sha) as (
    select repo, unnest(parents) as sha from _walk_new
    union
    select g.repo, unnest(c.parents) as sha
    from reached as r
    join walk_state.graph as g on g.repo = r.repo and g.sha = r.sha
    join core.commits as c on c.repo = r.repo and c.sha = r.sha
    where g.pos is null
)

select g.repo, g.sha, c.parents
from walk_state.graph as g
join core.commits as c using (repo, sha)
semi join reached as r using (repo, sha)
where g.pos is null
order by g.repo

-- The commits of the graph without a position that the commits to place reach through such commits
-- (only they can take a position from a spine extension), ordered by repo.
-- reads temp: _walk_new
with recursive reached(repo, sha) as (
    select repo, unnest(parents) as sha from _walk_new
    union
    select g.repo, unnest(g.parents) as sha
    from reached as r
    join walk_state.graph as g on g.repo = r.repo and g.sha = r.sha
    where g.pos is null
)

select g.repo, g.sha, g.parents
from walk_state.graph as g
semi join reached as r using (repo, sha)
where g.pos is null
order by g.repo

-- The commits of the graph without a position, of the repos with commits to place, ordered by repo.
-- reads temp: _walk_new
select g.repo, g.sha, g.parents
from walk_state.graph as g
semi join (select distinct repo from _walk_new) as r using (repo)
where g.pos is null
order by g.repo

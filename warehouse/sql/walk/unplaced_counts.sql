-- Per repo with commits to place: how many commits of its graph have no position.
-- reads temp: _walk_new
select g.repo, count(*) as unplaced
from walk_state.graph as g
semi join (select distinct repo from _walk_new) as r using (repo)
where g.pos is null
group by g.repo

-- Per repo with commits to place: the last commits of its spine (how many: the parameter), their
-- positions, and how many commits the repo's graph holds.
-- reads temp: _walk_new
with repos as (
    select distinct repo from _walk_new
),

ends as (
    select repo, max(pos) as last from walk_state.spine semi join repos using (repo) group by repo
),

sizes as (
    select repo, count(*) as total from walk_state.graph semi join repos using (repo) group by repo
)

select s.repo, s.sha, s.pos, z.total
from walk_state.spine as s
join ends as e on e.repo = s.repo and s.pos > e.last - $1
join sizes as z on z.repo = s.repo

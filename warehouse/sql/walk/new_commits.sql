-- The commits to place on an existing spine: written since the last transform, not in the graph yet,
-- of a repo not placed from scratch.
-- reads temp: _walk_changed, _walk_scratch
select c.repo, c.sha, c.parents
from _walk_changed as c
anti join walk_state.graph as g using (repo, sha)
anti join _walk_scratch as s using (repo)

-- The new commits join the graph with the positions warehouse/reach.py gave them (if any), except in
-- the repos of the parameter: those are placed from scratch instead.
-- reads temp: _walk_new, _walk_pos
insert into walk_state.graph by name
select n.repo, n.sha, hash(n.parents) as parents_hash, p.pos
from _walk_new as n
left join _walk_pos as p using (repo, sha)
where not list_contains($1, n.repo)

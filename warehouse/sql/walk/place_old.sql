-- The commits of the graph that had no position and got one from an extended spine take it.
-- reads temp: _walk_pos
update walk_state.graph as g set pos = p.pos
from _walk_pos as p
where g.repo = p.repo and g.sha = p.sha and g.pos is null

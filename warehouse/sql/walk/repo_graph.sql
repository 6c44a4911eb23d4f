-- One repo's graph (the parameter): each commit's parents (from core.commits) and position.
select g.sha, c.parents, g.pos
from walk_state.graph as g
join core.commits as c on c.repo = g.repo and c.sha = g.sha
where g.repo = $1

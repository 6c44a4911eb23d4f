-- Spines cut short (each repo of _walk_cuts at its position `last`): the commits placed beyond the cut
-- lose their position, the spine its commits beyond it, and the deployed shas whose floor was beyond it
-- their floor and extra set.
-- reads temp: _walk_cuts
update walk_state.graph as g set pos = null
from _walk_cuts as c
where g.repo = c.repo and g.pos > c.last;

delete from walk_state.spine as s using _walk_cuts as c where s.repo = c.repo and s.pos > c.last;

delete from walk_state.extra as e
using walk_state.deployed as d, _walk_cuts as c
where e.repo = c.repo and d.repo = e.repo and d.sha = e.tip and d.floor > c.last;

delete from walk_state.deployed as d using _walk_cuts as c where d.repo = c.repo and d.floor > c.last

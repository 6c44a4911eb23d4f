-- The placed commits join the graph and the spine (warehouse/reach_ids.py): _walk_id_pos holds every
-- id's position (-1: no spine commit reaches it), _walk_id_spine the spine's ids and positions.
-- reads temp: _walk_ids, _walk_id_pos, _walk_id_spine
insert into walk_state.graph by name
select i.repo, i.sha, hash(i.parents) as parents_hash, nullif(p.pos, -1) as pos
from _walk_ids as i
join _walk_id_pos as p using (id);

insert into walk_state.spine by name
select i.repo, s.pos, i.sha
from _walk_ids as i
join _walk_id_spine as s using (id)

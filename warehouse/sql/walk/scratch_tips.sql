-- The ids of _walk_tip_ids (commits of _walk_ids) in the order of their shas: the last tie-break between
-- the tips that could end a spine.
-- reads temp: _walk_ids, _walk_tip_ids
select t.id
from _walk_tip_ids as t
join _walk_ids as i using (id)
order by i.sha

-- The parent edges of _walk_ids between commits both in it (a parent never loaded is no edge), as ids,
-- and whether the parent is the child's first.
-- reads temp: _walk_ids
select e.id as child, p.id as parent, e.k = 1 as is_first
from (
    select repo, id, unnest(parents) as sha, generate_subscripts(parents, 1) as k from _walk_ids
) as e
join _walk_ids as p using (repo, sha)

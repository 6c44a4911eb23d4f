-- The commits of the repos placed from scratch (warehouse/reach_ids.py), numbered 0.. in no particular
-- order (numbering them in (repo, sha) order would sort every commit), with their repo's number (rid:
-- the repos in name order).
-- reads temp: _walk_scratch_list
create or replace temp sequence _walk_id_seq minvalue 0 start 0;

create or replace temp table _walk_ids as
select c.repo, c.sha, c.parents, r.rid, nextval('_walk_id_seq') as id
from core.commits as c
join (select repo, (row_number() over (order by repo) - 1)::bigint as rid from _walk_scratch_list) as r
    using (repo)

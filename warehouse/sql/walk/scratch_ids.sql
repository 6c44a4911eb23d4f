-- The commits of the repos placed from scratch (warehouse/reach_ids.py), numbered 0.. in (repo, sha)
-- order: within a repo a higher id is a higher sha, and each repo's ids follow the previous repo's.
-- reads temp: _walk_scratch_list
create or replace temp table _walk_ids as
select c.repo, c.sha, c.parents, (row_number() over (order by c.repo, c.sha) - 1)::bigint as id
from core.commits as c
semi join _walk_scratch_list as r using (repo)

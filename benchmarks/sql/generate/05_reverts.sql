-- A revert commit names a default-branch commit shortly before it, in git's own words.
update g_commits c
set message = 'Revert "' || split_part(x.target_message, chr(10), 1) || '"' || chr(10) || chr(10)
    || 'This reverts commit ' || x.target_sha || '.'
from (
    select r.s, r.k, t.sha as target_sha, t.message as target_message
    from g_commits r
    join g_commits t
        on t.s = r.s and t.is_main
        and t.main_ord = r.main_ord - 1 - (hash(getvariable('seed'), 'rtarget', r.k) % 20)::bigint
    where r.is_revert
) x
where c.s = x.s and c.k = x.k

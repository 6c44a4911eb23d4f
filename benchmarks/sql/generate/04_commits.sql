-- grain: one row per commit (s, k). Default-branch commits chain to the previous default-branch commit;
-- a PR's branch commits fork from it; a merge commit has the branch head as its second parent; a squash
-- commit has one parent and leaves its branch commits unreachable (as GitHub does); rebase-merged commits
-- land on the default branch themselves.
create or replace temp table g_commits as
with expanded as (
    select unit_id, s, kind, b, is_hotfix, is_revert, start_k, prev_tip_k, repo_n, unnest(range(n)) as pos
    from g_units
),
placed as (
    select *,
        start_k + pos as k,
        kind in ('direct', 'rebase') or (kind in ('merge', 'squash') and pos = b) as is_main,
        kind <> 'direct' and pos < b as in_pr,
        case when prev_tip_k is null then []::varchar[] else [sha(s, prev_tip_k)] end as fork
    from expanded
),
shaped as (
    select p.*,
        sha(p.s, p.k) as sha,
        case when p.kind = 'merge' and p.pos = p.b then p.fork || [sha(p.s, p.k - 1)]
             when p.kind = 'squash' and p.pos = p.b then p.fork
             when p.pos = 0 then p.fork
             else [sha(p.s, p.k - 1)] end as parents,
        pos_us(p.s, p.k, p.repo_n) as committed_us,
        p.s * 100000000 + p.k as cid
    from placed p
),
conventional as (
    select *,
        pick(['fix', 'feat', 'chore', 'refactor', 'docs', 'test', 'perf'], 'ctype', cid) || ': '
        || pick(['handle empty cart', 'bump dependencies', 'tidy imports', 'speed up query',
                 'add retries to client', 'document config', 'cover edge case', 'log request ids',
                 'drop dead code', 'tune timeouts'], 'csubject', cid)
        || case when u('body', cid) < 0.3
                then chr(10) || chr(10) || 'Why: the old behaviour surprised users,' || chr(10)
                     || 'see the linked issue.' else '' end as plain_message
    from shaped
)
select
    c.s, sv.repo, c.k, c.unit_id, c.kind, c.is_main, c.in_pr, c.is_revert, c.sha, c.parents,
    c.committed_us,
    case when c.kind = 'direct' then c.committed_us - expo_us('dauthor', c.cid, 1.5)
         when c.kind in ('merge', 'squash') and c.pos = c.b then c.committed_us
         -- branch commits were written between the start of the work and the merge (rebased later,
         -- so committed_at is when they landed in this sequence)
         else least(pr.work_start_us + ((c.pos / c.b) * (pr.work_end_us - pr.work_start_us) * 0.9)::bigint,
                    c.committed_us) end as authored_us,
    coalesce(pr.author, 'dev-' || (hash(getvariable('seed'), 'cauthor', c.cid) % 800)) as author,
    case when c.kind = 'merge' and c.pos = c.b
            then 'Merge pull request #' || pr.number || ' from org/' || pr.head_branch || chr(10) || chr(10)
                 || pr.title
         when c.kind = 'squash' and c.pos = c.b then pr.title || ' (#' || pr.number || ')'
         when c.kind = 'direct' and c.is_hotfix then 'hotfix: ' || split_part(c.plain_message, ': ', 2)
         else c.plain_message end as message,
    case when c.is_main then row_number() over (partition by c.s, c.is_main order by c.k) end as main_ord
from conventional c
join g_services sv using (s)
left join g_prs pr using (unit_id)

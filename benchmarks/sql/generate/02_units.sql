-- grain: one row per unit of work landing in a repo: a pull request (its branch commits plus, for merge
-- and squash styles, the commit on the default branch) or a direct commit. Units are laid out one after
-- the other along the repo's sequence of commit positions; `prev_tip_k` is the default-branch commit the
-- unit forks from, so the default branch stays linear except for true merge commits.
create or replace temp table g_units as
with prs as (
    select
        p as unit_id,
        p % getvariable('n_services') as s,
        1 + (hash(getvariable('seed'), 'b', p) % 5)::int as b,
        case
            when u('merged', p) >= 0.9 then 'unmerged'
            when u('style', p) < 0.42 then 'merge'
            when u('style', p) < 0.84 then 'squash'
            else 'rebase'
        end as kind,
        u('hotfix', p) < 0.02 as is_hotfix,
        false as is_revert
    from range(getvariable('n_prs')) t(p)
),
pr_sized as (
    select *, case when kind in ('merge', 'squash') then b + 1 else b end as n from prs
),
used as (select s, sum(n)::bigint as used from pr_sized group by s),
targets as (
    select s, getvariable('n_commits') // getvariable('n_services')
        + (s < getvariable('n_commits') % getvariable('n_services'))::int as target
    from g_services
),
direct_ids as (
    select t.s, unnest(range(greatest(t.target - coalesce(used.used, 0), 0)::bigint)) as d
    from targets t left join used using (s)
),
directs as (
    select
        -- unique across units: PR units use 0 .. n_prs-1
        getvariable('n_prs') + d * getvariable('n_services') + s as unit_id,
        s, 1 as b, 'direct' as kind,
        u('dhotfix', d * 100003 + s) < 0.003 as is_hotfix,
        u('revert', d * 100003 + s) between 0.003 and 0.009 as is_revert,
        1 as n
    from direct_ids
),
units as (
    select unit_id, s, b, kind, is_hotfix, is_revert, n from pr_sized
    union all
    select unit_id, s, b, kind, is_hotfix, is_revert, n from directs
),
ordered as (
    select *,
        sum(n) over (partition by s order by hash(getvariable('seed'), 'ord', unit_id), unit_id
                     rows between unbounded preceding and current row) - n as start_k,
        (sum(n) over (partition by s))::bigint as repo_n
    from units
),
tipped as (
    select *,
        -- the unit's last default-branch commit (an unmerged PR adds none)
        start_k + case kind when 'direct' then 0 when 'merge' then b when 'squash' then b
                            when 'rebase' then b - 1 end as tip_k
    from ordered
)
select *,
    max(tip_k) over (partition by s order by start_k rows between unbounded preceding and 1 preceding)
        as prev_tip_k,
    pos_us(s, start_k + n - 1, repo_n) as unit_us
from tipped

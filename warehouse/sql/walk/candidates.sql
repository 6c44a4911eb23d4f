-- The commits the deployments to walk may reach first: per repo, the spine positions past the lowest
-- floor before a pending deployment, and the extra commits of the pending shas.
-- reads temp: _walk_steps
with windows as (
    select repo, min(before_max) as lo, max(floor) as hi
    from _walk_steps
    where is_pending and floor > before_max
    group by repo
)

select g.repo, g.sha, g.pos
from walk_state.graph as g
join windows as w on g.repo = w.repo and g.pos > w.lo and g.pos <= w.hi
union all
-- the extra commits not in the windows already (so that only these few rows are made distinct)
select distinct g.repo, g.sha, g.pos
from (select distinct repo, commit_sha from _walk_steps where is_pending) as t
join walk_state.extra as e on e.repo = t.repo and e.tip = t.commit_sha
join walk_state.graph as g on g.repo = e.repo and g.sha = e.sha
left join windows as w on w.repo = g.repo
where not coalesce(g.pos > w.lo and g.pos <= w.hi, false)

-- The rows of marts.deployment_reach for the deployments to walk: the commits each reaches that no
-- earlier deployment of its service and environment reached (METRICS.md "Changes shipped by a
-- deployment"), only those in the service's paths when it has some. A commit with a position is reached
-- first by the first deployment whose floor is at least that position (an ASOF join on the running
-- highest floors), unless an earlier deployment held it in its extra set. The ASOF join matches on a
-- number per (service, environment) pair (the same wherever the CTE is read), not on the two strings.
-- reads temp: _walk_steps, _walk_candidates, _walk_in_paths
with pairs as (
    select *, dense_rank() over (order by service, environment) as pair
    from (
        select distinct service, environment, repo, paths is not null as filtered
        from _walk_steps
        where is_pending
    )
),

visible as (
    select p.pair, p.service, p.environment, c.repo, c.sha, c.pos
    from pairs as p
    join _walk_candidates as c on c.repo = p.repo
    where not p.filtered
    union all
    select p.pair, p.service, p.environment, c.repo, c.sha, c.pos
    from pairs as p
    join _walk_in_paths as i on i.service = p.service and i.repo = p.repo
    join _walk_candidates as c on c.repo = i.repo and c.sha = i.sha
    where p.filtered
),

steps as (
    select s.*, p.pair from _walk_steps as s
    join pairs as p using (service, environment)
    where s.is_pending and s.floor > s.before_max
),

by_range as (
    select v.service, v.environment, v.repo, v.sha, s.deployment_id, s.env_seq, s.is_baseline
    from visible as v
    asof join steps as s on s.pair = v.pair and v.pos <= s.floor
    where v.pos > s.before_max
),

by_extra as (
    select v.service, v.environment, v.repo, v.sha, s.deployment_id, s.env_seq, s.is_baseline
    from _walk_steps as s
    join walk_state.extra as e on e.repo = s.repo and e.tip = s.commit_sha
    join visible as v on v.service = s.service and v.environment = s.environment and v.sha = e.sha
    where s.is_pending and (v.pos is null or v.pos > s.before_max)
),

reached as (
    select * from by_range
    union all
    select * from by_extra
),

-- per pair and commit, the first deployment whose extra set holds it: it reached the commit first
first_extra as (
    select s.service, s.environment, e.sha, min(s.env_seq) as env_seq
    from _walk_steps as s
    join walk_state.extra as e on e.repo = s.repo and e.tip = s.commit_sha
    semi join reached as r on r.service = s.service and r.environment = s.environment and r.sha = e.sha
    group by all
)

select r.deployment_id, r.service, r.environment, r.repo, r.sha, not r.is_baseline as is_shipped
from reached as r
left join first_extra as x using (service, environment, sha)
where x.env_seq is null or x.env_seq >= r.env_seq

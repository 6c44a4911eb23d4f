-- The shas that production deployments not walked yet ship, among the commits to place (_walk_new) and
-- the commits without a position: they weigh in the choice of the chain that extends a spine, and one
-- left without a position is what makes placing its repo again worth it.
-- reads temp: _walk_new
select distinct d.repo, d.commit_sha
from marts.prod_deployments as d
anti join walk_state.done as w using (deployment_id)
semi join (
    select repo, sha from _walk_new
    union all
    select repo, sha from walk_state.graph where pos is null
) as c on c.repo = d.repo and c.sha = d.commit_sha

-- The ids of _walk_ids whose sha a production deployment ships (they make a spine worth choosing).
-- reads temp: _walk_ids
select i.id
from _walk_ids as i
semi join marts.prod_deployments as d on d.repo = i.repo and d.commit_sha = i.sha

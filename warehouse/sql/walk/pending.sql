-- The production deployments not walked yet, in walking order.
select d.deployment_id, d.service, d.environment, d.repo, d.commit_sha, d.env_seq, d.is_baseline,
       d.is_unknown_sha, d.finished_at
from marts.prod_deployments as d
anti join walk_state.done as w using (deployment_id)
order by d.service, d.environment, d.env_seq

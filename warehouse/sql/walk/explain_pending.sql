-- The production deployments `dora explain outside_paths` looks at: those (baselines aside) of the
-- path-filtered services in scope, of the group, in the period and environments (or the one deployment
-- asked for), shaped as sql/walk/pending.sql.
-- reads temp: _scope
select d.deployment_id, d.service, d.environment, d.repo, d.commit_sha, d.env_seq, d.is_baseline,
       d.is_unknown_sha, d.finished_at
from marts.prod_deployments as d
join _scope as s using (service)
join core.services as cs using (service)
where len(cs.paths) > 0 and not d.is_baseline
  and in_period(d.finished_at) and in_environments(d.environment)
  and (getvariable('explain_group') is null or s.grp = getvariable('explain_group'))
  and (getvariable('explain_deployment') is null or d.deployment_id = getvariable('explain_deployment'))

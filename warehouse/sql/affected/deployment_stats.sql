-- The deployments whose shipped-commit facts must be derived again: those just walked, those that
-- shipped a commit whose change facts changed, and those gone (their environment was walked again
-- without them), whose rows are deleted.
-- reads temp: _walked, _affected_commits
select deployment_id from _walked
union
select r.deployment_id from marts.deployment_reach as r
semi join _affected_commits as a on a.repo = r.repo and a.sha = r.sha
where r.is_shipped
union
select deployment_id from marts.deployment_stats anti join marts.prod_deployments using (deployment_id)

-- The deployments whose shipped-commit facts must be derived again: those just walked, and those that
-- shipped a commit whose change facts changed.
select deployment_id from _walked
union
select r.deployment_id from marts.deployment_reach as r
semi join _affected_commits as a on a.repo = r.repo and a.sha = r.sha
where r.is_shipped

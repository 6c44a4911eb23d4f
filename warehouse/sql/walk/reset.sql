-- The (service, environment) pairs whose walked history no longer holds: a walked deployment changed
-- or vanished, or the repo's commit graph changed under it (a commit replaced with other parents,
-- a missing parent or an unknown deployed sha that has arrived). They are walked again from scratch.
with graph_now as (
    select repo, sha, parents from core.commits
),

changed_repos as (
    select o.repo
    from marts.walk_graph as o
    left join graph_now as c using (repo, sha)
    where c.sha is null or c.parents <> o.parents
    union
    select a.repo
    from (select repo, sha from graph_now anti join marts.walk_graph using (repo, sha)) as a
    join (
        select repo, unnest(parents) as sha from marts.walk_graph
        union all
        select repo, commit_sha from marts.walk_done
    ) as wanted using (repo, sha)
)

select distinct w.service, w.environment
from marts.walk_done as w
left join marts.prod_deployments as d
    on d.service = w.service and d.environment = w.environment and d.env_seq = w.env_seq
where d.deployment_id is distinct from w.deployment_id
   or d.commit_sha is distinct from w.commit_sha
   or d.repo is distinct from w.repo
   or w.repo in (select repo from changed_repos)

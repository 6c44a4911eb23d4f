-- The repos whose commit graph changed under the walk state: a commit came back with other parents (their
-- hash differs), or a parent or deployed sha that was missing has arrived. Their commits are placed again
-- from scratch and their walked deployments walked again.
-- reads temp: _walk_changed
select c.repo from _walk_changed as c join walk_state.graph as g using (repo, sha)
where hash(c.parents) <> g.parents_hash
union
select c.repo from _walk_changed as c join walk_state.missing as m using (repo, sha)
union
select c.repo from _walk_changed as c
join walk_state.done as w on w.repo = c.repo and w.commit_sha = c.sha
where w.was_unknown

-- The repos to place from scratch: their graph changed, or they have new commits and no spine yet.
-- reads temp: _walk_changed_repos, _walk_changed
select repo from _walk_changed_repos
union
select distinct c.repo from _walk_changed as c anti join walk_state.spine as s using (repo)

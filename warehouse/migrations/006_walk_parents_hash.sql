-- Version 6: the walk's graph keeps a hash of each commit's parents instead of the list (two million
-- lists of shas were the largest part of a full transform's writes). The hash is what tells a commit that
-- came back with other parents (sql/walk/changed_repos.sql); the parents themselves are read from
-- core.commits. A hash that no longer matches, after a DuckDB whose hash differs, only places that
-- repo's commits again: the results are a function of the graph alone.
alter table walk_state.graph add column parents_hash ubigint;
update walk_state.graph set parents_hash = hash(parents);
alter table walk_state.graph drop column parents;

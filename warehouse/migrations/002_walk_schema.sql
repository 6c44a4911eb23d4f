-- Version 2: the commit-graph walk's bookkeeping in a schema of its own, so that `dora sql`, `dora export`
-- and the analyst engine show only what people query. Only `dora transform` reads it (warehouse/walk.py).
-- marts.deployment_reach stays in marts: four marts read it, and it is the answer to "which commits did
-- this deployment ship".
create schema if not exists walk_state;

-- grain: one row per production deployment already walked (as it was then)
create table walk_state.done (
    deployment_id varchar not null, service varchar not null, environment varchar not null,
    env_seq bigint not null, commit_sha varchar not null, repo varchar, finished_at timestamp not null,
    was_unknown boolean not null
);
-- grain: one row per (repo, sha): the commit graph the walk state was computed on
create table walk_state.graph (repo varchar not null, sha varchar not null, parents varchar[] not null);
-- grain: one row per (repo, sha) named as a parent but absent when last walked: its arrival means a re-walk
create table walk_state.missing (repo varchar not null, sha varchar not null);

insert into walk_state.done select * from marts.walk_done;
insert into walk_state.graph select * from marts.walk_graph;
insert into walk_state.missing select * from marts.walk_missing;
drop table marts.walk_done;
drop table marts.walk_graph;
drop table marts.walk_missing;

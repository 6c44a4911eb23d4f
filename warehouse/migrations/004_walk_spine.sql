-- Version 4: the commit-graph walk keeps its state per repository, not per (service, environment, commit)
-- (warehouse/walk.py, warehouse/reach.py): each commit's place against its repo's spine, and for each
-- deployed sha the last spine commit it reaches and its ancestors beyond it. What a service ships is
-- then ranges of spine positions, whatever the number of services deployed from the repo.
-- The full transform the new SQL fingerprint triggers fills these tables.
alter table walk_state.graph add column pos bigint;
-- grain: one row per (repo, pos): the spine, a first-parent chain of the repo, oldest first
create table walk_state.spine (repo varchar not null, pos bigint not null, sha varchar not null);
-- grain: one row per (repo, sha) deployed to production: the last spine position its ancestors hold
-- (null: none)
create table walk_state.deployed (repo varchar not null, sha varchar not null, floor bigint);
-- grain: one row per (repo, tip, sha): the ancestors of a deployed sha (tip) off the spine that its
-- floor does not reach
create table walk_state.extra (repo varchar not null, tip varchar not null, sha varchar not null);
-- the path patterns a walked deployment's service had: other patterns mean another walk
alter table walk_state.done add column paths varchar[];

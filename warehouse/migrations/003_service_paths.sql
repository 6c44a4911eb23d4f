-- Version 3: monorepos (BUNDLE.md "Monorepos", METRICS.md "Service paths"): the path patterns a service
-- is told apart by, and the files each commit changed. services is rebuilt so that paths sits before
-- _load_id, in the order warehouse/schema.py declares.
create table core.services_v3 (
    service varchar not null, repo varchar, team varchar, paths varchar[] not null default [],
    _load_id bigint not null
);
insert into core.services_v3 (service, repo, team, paths, _load_id)
select service, repo, team, [], _load_id from core.services;
drop table core.services;
alter table core.services_v3 rename to services;

-- grain: one row per (repo, sha, path)
create table if not exists core.commit_files (
    repo varchar not null, sha varchar not null, path varchar not null,
    _load_id bigint not null
);

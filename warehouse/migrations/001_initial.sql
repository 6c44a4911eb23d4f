-- Version 1: the layers raw, core and marts, and the canonical tables (warehouse/schema.py).
-- Timestamps are TIMESTAMP holding UTC (converted on load); keys are enforced by the loaders and tested,
-- not by indexes, so that bulk upserts stay a hash join. `_load_id` says which load wrote a core row:
-- `dora transform` works on what changed since the load it last saw.
create schema if not exists raw;
create schema if not exists core;
create schema if not exists marts;

-- grain: one row per setting of the warehouse itself (schema_version, last_transform_at, ...)
create table if not exists main._doralytics (key varchar not null, value varchar);

-- grain: one row per (source, scope, entity): where the next incremental sync starts
create table if not exists raw.cursors (
    source varchar not null, scope varchar not null, entity varchar not null,
    cursor varchar, updated_at timestamp not null
);

-- grain: one row per sync or import run
create table if not exists raw.sync_runs (
    source varchar not null, scope varchar not null, started_at timestamp not null,
    finished_at timestamp, rows_loaded bigint, status varchar not null
);

-- the load ids: a loader takes one per table it writes (main._doralytics `load_id`, migration 5)

-- grain: one row per service
create table if not exists core.services (
    service varchar not null, repo varchar, team varchar, _load_id bigint not null
);

-- grain: one row per (repo, sha)
create table if not exists core.commits (
    repo varchar not null, sha varchar not null, parents varchar[] not null,
    authored_at timestamp not null, committed_at timestamp, author varchar, message varchar,
    _load_id bigint not null
);

-- grain: one row per (repo, number)
create table if not exists core.pull_requests (
    repo varchar not null, number bigint not null, title varchar, author varchar,
    created_at timestamp, first_commit_at timestamp, first_review_at timestamp, merged_at timestamp,
    merge_commit_sha varchar, head_branch varchar, base_branch varchar, labels varchar[] not null,
    _load_id bigint not null
);

-- grain: one row per (repo, number, sha)
create table if not exists core.pull_request_commits (
    repo varchar not null, number bigint not null, sha varchar not null, _load_id bigint not null
);

-- grain: one row per deployment_id
create table if not exists core.deployments (
    deployment_id varchar not null, service varchar not null, environment varchar not null,
    environment_tier varchar, commit_sha varchar not null, started_at timestamp,
    finished_at timestamp not null, status varchar not null, _load_id bigint not null
);

-- grain: one row per run_id
create table if not exists core.pipeline_runs (
    run_id varchar not null, service varchar, pipeline varchar, branch varchar,
    commit_sha varchar, started_at timestamp, finished_at timestamp, status varchar,
    _load_id bigint not null
);

-- grain: one row per incident_id
create table if not exists core.incidents (
    incident_id varchar not null, service varchar not null, title varchar, severity varchar,
    created_at timestamp not null, resolved_at timestamp, deployment_id varchar, commit_sha varchar,
    _load_id bigint not null
);

-- The commit-graph walk's state (warehouse/walk.py), kept between transforms so that a day of new
-- data costs a day's work.
-- grain: one row per (deployment_id, sha) a production deployment reached first in its environment;
-- is_shipped is false for what a baseline reached (reachable for later, shipped by none)
create table if not exists marts.deployment_reach (
    deployment_id varchar not null, service varchar not null, environment varchar not null,
    repo varchar, sha varchar not null, is_shipped boolean not null
);
-- grain: one row per production deployment already walked (as it was then)
create table if not exists marts.walk_done (
    deployment_id varchar not null, service varchar not null, environment varchar not null,
    env_seq bigint not null, commit_sha varchar not null, repo varchar, finished_at timestamp not null,
    was_unknown boolean not null
);
-- grain: one row per (repo, sha): the commit graph the walk state was computed on
create table if not exists marts.walk_graph (repo varchar not null, sha varchar not null, parents varchar[] not null);
-- grain: one row per (repo, sha) named as a parent but absent when last walked: its arrival means a re-walk
create table if not exists marts.walk_missing (repo varchar not null, sha varchar not null);

-- Version 5: one schema for both backends (warehouse/address.py): a DuckLake has no sequences, so the load
-- ids come from a counter in main._doralytics (`load_id`: the newest handed out), which every loader
-- advances in its own transaction (warehouse/load.py). A file made by versions 1 to 4 loses its sequence
-- and the columns' defaults drawn from it (a row always says its load).
-- The counter starts at the newest load id a row or the last transform holds (DuckDB 1.4 reports a
-- sequence's last value one too high after a reopen, so the sequence itself is not asked).
insert into main._doralytics
select 'load_id', cast(greatest(
    coalesce((select max(try_cast(value as bigint)) from main._doralytics where key = 'transformed_load_id'), 0),
    coalesce((select max(_load_id) from core.services), 0),
    coalesce((select max(_load_id) from core.commits), 0),
    coalesce((select max(_load_id) from core.commit_files), 0),
    coalesce((select max(_load_id) from core.pull_requests), 0),
    coalesce((select max(_load_id) from core.pull_request_commits), 0),
    coalesce((select max(_load_id) from core.deployments), 0),
    coalesce((select max(_load_id) from core.pipeline_runs), 0),
    coalesce((select max(_load_id) from core.incidents), 0)
) as varchar);
alter table core.services alter column _load_id drop default;
alter table core.commits alter column _load_id drop default;
alter table core.commit_files alter column _load_id drop default;
alter table core.pull_requests alter column _load_id drop default;
alter table core.pull_request_commits alter column _load_id drop default;
alter table core.deployments alter column _load_id drop default;
alter table core.pipeline_runs alter column _load_id drop default;
alter table core.incidents alter column _load_id drop default;
drop sequence if exists core.load_seq;

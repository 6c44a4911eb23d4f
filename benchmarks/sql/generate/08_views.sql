-- The generated rows shaped like the core tables, split at `cutoff_us`: gm_* is the warehouse as of the
-- cutoff (so what happens later is not known yet: a PR merged after it is still open there, an incident
-- resolved after it is still open), gh_* is the held-out day, to be upserted by key later as an
-- incremental load would. Without a hold-out the cutoff is the end of the data and gh_* are empty.
create or replace temp view gm_services as
select service, repo, team from g_services;

create or replace temp view gm_commits as
select repo, sha, parents, make_timestamp(authored_us) as authored_at, make_timestamp(committed_us) as committed_at,
    author, message
from g_commits where committed_us <= getvariable('cutoff_us');

create or replace temp view gh_commits as
select repo, sha, parents, make_timestamp(authored_us) as authored_at, make_timestamp(committed_us) as committed_at,
    author, message
from g_commits where committed_us > getvariable('cutoff_us');

create or replace temp macro known(us) as case when us <= getvariable('cutoff_us') then make_timestamp(us) end;

create or replace temp view gm_pull_requests as
select repo, number, title, author, make_timestamp(created_us) as created_at,
    known(first_commit_us) as first_commit_at, known(first_review_us) as first_review_at,
    known(merged_us) as merged_at,
    case when merged_us <= getvariable('cutoff_us') then merge_commit_sha end as merge_commit_sha,
    head_branch, base_branch, labels
from g_prs where created_us <= getvariable('cutoff_us');

create or replace temp view gh_pull_requests as
select repo, number, title, author, make_timestamp(created_us) as created_at,
    make_timestamp(first_commit_us) as first_commit_at, make_timestamp(first_review_us) as first_review_at,
    make_timestamp(merged_us) as merged_at, merge_commit_sha, head_branch, base_branch, labels
from g_prs
where greatest(created_us, coalesce(first_review_us, 0), coalesce(merged_us, 0), coalesce(first_commit_us, 0))
    > getvariable('cutoff_us');

create or replace temp view gm_pull_request_commits as
select p.repo, p.number, c.sha
from g_commits c join g_prs p using (unit_id)
where c.in_pr and p.created_us <= getvariable('cutoff_us') and c.committed_us <= getvariable('cutoff_us');

create or replace temp view gh_pull_request_commits as
select p.repo, p.number, c.sha
from g_commits c join g_prs p using (unit_id)
where c.in_pr
    and greatest(p.created_us, coalesce(p.first_review_us, 0), coalesce(p.merged_us, 0),
                 coalesce(p.first_commit_us, 0)) > getvariable('cutoff_us');

create or replace temp view gm_deployments as
select deployment_id, service, environment, environment_tier, commit_sha, make_timestamp(started_us) as started_at,
    make_timestamp(finished_us) as finished_at, status
from g_deployments where finished_us <= getvariable('cutoff_us');

create or replace temp view gh_deployments as
select deployment_id, service, environment, environment_tier, commit_sha, make_timestamp(started_us) as started_at,
    make_timestamp(finished_us) as finished_at, status
from g_deployments where finished_us > getvariable('cutoff_us');

create or replace temp view gm_incidents as
select incident_id, service, title, severity, make_timestamp(created_us) as created_at,
    known(resolved_us) as resolved_at, deployment_id, commit_sha
from g_incidents where created_us <= getvariable('cutoff_us');

create or replace temp view gh_incidents as
select incident_id, service, title, severity, make_timestamp(created_us) as created_at,
    make_timestamp(resolved_us) as resolved_at, deployment_id, commit_sha
from g_incidents where created_us > getvariable('cutoff_us') or resolved_us > getvariable('cutoff_us');

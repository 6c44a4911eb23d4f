-- The commits whose change facts must be derived again: those written since the last transform, and
-- those whose pull request (as a merge commit or a listed commit, before or after) was.
with changed_prs as (
    select repo, number, merge_commit_sha from core.pull_requests
    where _load_id > getvariable('since_load_id')
)

select repo, sha from core.commits where _load_id > getvariable('since_load_id')
union
select repo, merge_commit_sha from changed_prs where merge_commit_sha is not null
union
select pc.repo, pc.sha from core.pull_request_commits as pc semi join changed_prs using (repo, number)
union
select repo, sha from core.pull_request_commits where _load_id > getvariable('since_load_id')
union
select cc.repo, cc.sha from marts.commit_changes as cc
semi join changed_prs as p on p.repo = cc.repo and p.number = cc.pr_number

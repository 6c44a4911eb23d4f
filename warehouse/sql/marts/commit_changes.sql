-- grain: one row per commit of core.commits, with the change it belongs to (null: a merge commit
-- of no merged PR) and what the failure rules need to know about it. Derived for the commits in
-- _affected_commits (all of them on a full rebuild, since_load_id -1: every row was written since, and the
-- commits and listings are read whole instead of matched against every key).
-- reads temp: _affected_commits
with merged as (
    select * from core.pull_requests where merged_at is not null
),

affected as (
    select * from core.commits where getvariable('since_load_id') < 0
    union all
    select * from core.commits semi join _affected_commits using (repo, sha)
    where getvariable('since_load_id') >= 0
),

listed as (
    select * from core.pull_request_commits where getvariable('since_load_id') < 0
    union all
    select * from core.pull_request_commits semi join _affected_commits using (repo, sha)
    where getvariable('since_load_id') >= 0
),

-- a commit's pull request: the merged one it is the merge commit of, else the first merged one that
-- lists it
pr_numbers as (
    select repo, sha, coalesce(min(number) filter (where by_merge), min(number)) as pr_number
    from (
        select repo, merge_commit_sha as sha, number, true as by_merge
        from merged where merge_commit_sha is not null
        union all
        select pc.repo, pc.sha, pc.number, false
        from listed as pc
        join merged as m using (repo, number)
    )
    group by repo, sha
),

hotfix_prs as (
    select repo, number
    from merged
    where len(list_filter(labels, lambda l: list_contains(getvariable('hotfix_labels'), lower(l)))) > 0
       or regexp_matches(coalesce(head_branch, ''), getvariable('hotfix_branch'))
),

commits as (
    select
        c.repo, c.sha, c.authored_at, c.author, len(c.parents) >= 2 as is_merge_commit,
        -- the first line: its end found by the regular expression, not by splitting the whole message
        rtrim(regexp_extract(coalesce(c.message, ''), '^[^\n]*'), chr(13)) as title,
        -- the regular expression only where its literal part occurs: most messages are no revert
        case when contains(c.message, 'This reverts commit ') then list_transform(
            regexp_extract_all(c.message, 'This reverts commit ([0-9a-fA-F]{7,64})', 1),
            lambda s: lower(s)
        ) else []::varchar[] end as reverted_prefixes
    from affected as c
),

numbered as (
    select c.*, p.pr_number from commits as c left join pr_numbers as p using (repo, sha)
),

final as (
    select
        c.repo, c.sha, c.pr_number, c.title, c.authored_at, c.author, c.reverted_prefixes,
        case
            when c.pr_number is not null then 'pr:' || c.repo || '#' || c.pr_number
            when not c.is_merge_commit then 'commit:' || c.repo || '@' || c.sha
        end as change_id,
        case
            when c.pr_number is not null then h.number is not null
            when not c.is_merge_commit then regexp_matches(c.title, getvariable('hotfix_title'))
            else false
        end as is_hotfix,
        len(c.reverted_prefixes) > 0 as is_revert
    from numbered as c
    left join hotfix_prs as h on h.repo = c.repo and h.number = c.pr_number
)

select * from final

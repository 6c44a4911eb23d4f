-- grain: one row per pull request. Stages are drawn backwards from the merge (merge <- review <- opened <-
-- first commit) so first_commit <= created <= first_review <= merged holds, except for the deliberate
-- noise docs/metrics.md has rules for: rewritten history (first commit after opening), no review, no
-- first_commit_at.
create or replace temp table g_prs as
with base as (
    select
        u.*,
        sv.repo,
        case when kind = 'unmerged' then null else unit_us end as merged_us,
        case when kind = 'unmerged' then unit_us - expo_us('open', unit_id, 48)
             else unit_us - expo_us('review', unit_id, 5) - expo_us('pickup', unit_id, 6) end as created_us,
        expo_us('coding', unit_id, 20) as coding_us
    from g_units u join g_services sv using (s)
    where kind <> 'direct'
),
timed as (
    select *,
        case when kind = 'unmerged' then (case when u('ureview', unit_id) < 0.5
                                               then least(created_us + expo_us('pickup', unit_id, 6), unit_us) end)
             when u('noreview', unit_id) < 0.04 then null
             else merged_us - expo_us('review', unit_id, 5) end as first_review_us,
        -- when the work started; authored_at of the branch commits is spread from here to the merge
        case when u('rewrite', unit_id) < 0.01 then created_us + expo_us('rewritten', unit_id, 2)
             else created_us - coding_us end as work_start_us
    from base
)
select
    unit_id, s, repo, kind, b, is_hotfix, start_k, tip_k, unit_us,
    row_number() over (partition by s order by created_us, unit_id) as number,
    case when is_hotfix then 'Hotfix: ' || pick(['restore checkout', 'stop retry storm', 'fix null config',
                                                 'roll back cache change', 'patch auth timeout'], 'htitle', unit_id)
         else pick(['Add', 'Fix', 'Refactor', 'Update', 'Remove', 'Improve'], 'verb', unit_id) || ' '
              || pick(['checkout flow', 'retry logic', 'cache layer', 'request logging', 'API client',
                       'config loader', 'metrics export', 'auth middleware', 'search index', 'billing job'],
                      'subject', unit_id)
    end as title,
    'dev-' || (hash(getvariable('seed'), 'author', unit_id) % 800) as author,
    created_us,
    case when u('nofirst', unit_id) < 0.005 then null else work_start_us end as first_commit_us,
    work_start_us,
    coalesce(merged_us, unit_us) as work_end_us,
    first_review_us,
    merged_us,
    case when kind <> 'unmerged' then sha(s, tip_k) end as merge_commit_sha,
    case when is_hotfix then 'hotfix/fix-' || unit_id
         else pick(['feature/', 'fix/', 'chore/'], 'branch', unit_id) || 'change-' || unit_id end as head_branch,
    'main' as base_branch,
    case when is_hotfix then ['hotfix']
         when u('label', unit_id) < 0.3 then ['bug']
         when u('label', unit_id) < 0.5 then ['enhancement']
         when u('label', unit_id) < 0.55 then ['dependencies', 'chore']
         else []::varchar[] end as labels
from timed

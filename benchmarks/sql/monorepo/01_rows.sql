-- The same work laid out two ways (variable `mono`: 1 = one repository org/mono deployed as every
-- service, told apart by paths services/svc-N/*; 0 = a repository org/svc-N per service, no paths).
-- Commit i belongs to service i % n_services (its files are under services/svc-N/, one in 50 touches
-- only docs/); per history (the repo, or the service's repo) commits go main, main, branch, merge: the
-- merge's second parent is the branch commit. Deployment d is service d % n_services deploying, at its
-- time, the newest main commit of its history.
create or replace temp table m_commits as
with raw as (
    select
        i,
        i % getvariable('n_services') as s,
        to_timestamp(getvariable('start_s') + i * getvariable('span_s') / getvariable('n_commits'))::timestamp
            as ts
    from range(getvariable('n_commits')) as t(i)
),
placed as (
    select
        *,
        case when getvariable('mono') = 1 then 'org/mono' else 'org/svc-' || s end as repo,
        row_number() over (
            partition by case when getvariable('mono') = 1 then 0 else s end order by i
        ) as rn
    from raw
),
shaped as (
    select
        *,
        md5(repo || ':' || rn) as sha,
        rn % 4 in (0, 1, 3) as is_main,
        case
            when rn = 1 then []::varchar[]
            when rn % 4 = 3 then [md5(repo || ':' || (rn - 2)), md5(repo || ':' || (rn - 1))]
            else [md5(repo || ':' || (rn - 1))]
        end as parents
    from placed
)
select repo, sha, parents, ts as authored_at, ts as committed_at, 'dev' || (i % 97) as author,
    'change ' || i as message, s, is_main, rn % 4 = 3 as is_merge, i
from shaped;

create or replace temp table m_files as
select repo, sha,
    case when i % 50 = 7 then 'docs/page' || (i % 13) || '.md'
         else 'services/svc-' || s || '/mod' || (i % 7) || '.py' end as path
from m_commits where not is_merge
union all
select repo, sha, 'services/svc-' || s || '/tests/test_' || (i % 5) || '.py' as path
from m_commits where not is_merge and i % 3 = 0;

create or replace temp table m_deployments as
with wanted as (
    select
        d,
        d % getvariable('n_services') as s,
        to_timestamp(getvariable('start_s') + 3600 + d * (getvariable('span_s') - 3600)
            / getvariable('n_deployments'))::timestamp as ts
    from range(getvariable('n_deployments')) as t(d)
),
keyed as (
    select *, case when getvariable('mono') = 1 then 'org/mono' else 'org/svc-' || s end as repo from wanted
)
select 'dep-' || k.d as deployment_id, 'svc-' || k.s as service, 'production' as environment,
    null::varchar as environment_tier, c.sha as commit_sha, k.ts as started_at, k.ts as finished_at,
    'success' as status
from keyed as k
asof join (select * from m_commits where is_main) as c on c.repo = k.repo and k.ts >= c.authored_at;

create or replace temp table m_services as
select 'svc-' || s as service,
    case when getvariable('mono') = 1 then 'org/mono' else 'org/svc-' || s end as repo,
    'team-' || (s % 10) as team,
    case when getvariable('mono') = 1 then ['services/svc-' || s || '/*'] else []::varchar[] end as paths
from range(getvariable('n_services')) as t(s);

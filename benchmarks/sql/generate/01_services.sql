-- grain: one row per service (= one repo). A tenth of the services deploy rarely (about monthly): they
-- are where incidents end up unattributed, as in a real organisation.
create or replace temp table g_services as
select
    s,
    'svc-' || s as service,
    'org/svc-' || s as repo,
    -- one service without an owner exercises the `unassigned` team
    case when s = getvariable('n_services') - 1 and s > 0 then null
         else 'team-' || (hash(getvariable('seed'), 'team', s) % getvariable('n_teams')) end as team,
    case when u('rare', s) < 0.1 then 0.03 else 0.5 + u('weight', s) end as deploy_weight,
    -- a few services name their environment `prod` with no tier: the regex path of docs/metrics.md
    u('envname', s) < 0.1 as uses_prod_name
from range(getvariable('n_services')) t(s)

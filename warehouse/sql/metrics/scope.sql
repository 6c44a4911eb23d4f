-- grain: one row per service in scope, with the group it is pooled into
select
    service,
    coalesce(team, 'unassigned') as team,
    case getvariable('group_by')
        when 'service' then service
        when 'team' then coalesce(team, 'unassigned')
        else 'all'
    end as grp
from core.services
-- (the casts: a variable set to null is typed INTEGER on DuckDB 1.4, which list_contains refuses)
where (getvariable('services') is null or list_contains(cast(getvariable('services') as varchar[]), service))
  and (getvariable('teams') is null
       or list_contains(cast(getvariable('teams') as varchar[]), coalesce(team, 'unassigned')))

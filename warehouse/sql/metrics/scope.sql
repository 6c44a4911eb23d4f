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
where (getvariable('services') is null or list_contains(getvariable('services'), service))
  and (getvariable('teams') is null or list_contains(getvariable('teams'), coalesce(team, 'unassigned')))

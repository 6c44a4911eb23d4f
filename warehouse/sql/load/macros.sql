-- Cell parsing and checks shared by every loader. A *_problem macro returns null for a good cell,
-- otherwise the message that names what is wrong with it.
create or replace temp macro cell(x) as nullif(trim(x), '');

create or replace temp macro ts_problem(x) as case
    when cell(x) is null then null
    when not regexp_full_match(trim(x),
        '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)')
        then 'timestamp ' || trim(x) || ' is not ISO 8601 with Z or an offset'
    when try_cast(trim(x) as timestamptz) is null then 'unparseable timestamp ' || trim(x)
end;

-- the connection runs with TimeZone UTC, so the cast to timestamp gives UTC wall time
create or replace temp macro to_utc(x) as cast(cast(cell(x) as timestamptz) as timestamp);

create or replace temp macro sha_problem(x) as case
    when cell(x) is not null and not regexp_full_match(trim(x), '[0-9a-fA-F]{7,64}')
        then 'malformed sha ' || trim(x) || ' (7 to 64 hexadecimal digits)'
end;

create or replace temp macro sha_list(x) as
    list_filter(string_split(lower(coalesce(trim(x), '')), ' '), lambda s: s <> '');

create or replace temp macro shas_problem(x) as case
    when len(list_filter(sha_list(x), lambda s: not regexp_full_match(s, '[0-9a-f]{7,64}'))) > 0
        then 'malformed sha ' || list_filter(sha_list(x), lambda s: not regexp_full_match(s, '[0-9a-f]{7,64}'))[1]
            || ' among the parents'
end;

create or replace temp macro label_list(x) as
    list_filter(list_transform(string_split(coalesce(x, ''), ';'), lambda s: trim(s)), lambda s: s <> '');

create or replace temp macro int_problem(x) as case
    when cell(x) is not null and try_cast(trim(x) as bigint) is null then 'not a whole number: ' || trim(x)
end;

create or replace temp macro status_problem(x, allowed) as case
    when cell(x) is not null and not list_contains(allowed, lower(trim(x)))
        then 'status ' || trim(x) || ' is not one of ' || array_to_string(allowed, ', ')
end;

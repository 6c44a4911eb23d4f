-- Cell parsing and checks shared by every loader. A *_problem macro returns null for a good cell,
-- otherwise the message that names what is wrong with it.
create or replace temp macro cell(x) as nullif(trim(x), '');

-- The UTC offset that ends an ISO 8601 timestamp, as its text and as [hours, minutes] (null for Z).
create or replace temp macro utc_offset_text(x) as nullif(regexp_extract(trim(x), '[+-]\d{2}(:?\d{2})?$'), '');
create or replace temp macro utc_offset(x) as case when utc_offset_text(x) is not null then [
    cast(substr(utc_offset_text(x), 2, 2) as int),
    coalesce(try_cast(nullif(right(replace(utc_offset_text(x), ':', ''), -3), '') as int), 0)
] end;

create or replace temp macro ts_problem(x) as case
    when cell(x) is null then null
    when not regexp_full_match(trim(x),
        '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)')
        then 'timestamp ' || trim(x) || ' is not ISO 8601 with Z or an offset'
    when utc_offset(x)[2] > 59 or utc_offset(x)[1] * 60 + utc_offset(x)[2] > 14 * 60
        then 'offset ' || utc_offset_text(x) || ' of timestamp ' || trim(x)
            || ' is not a UTC offset (from -14:00 to +14:00)'
    when try_cast(trim(x) as timestamptz) is null then 'unparseable timestamp ' || trim(x)
end;

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

-- A file path as git records it (BUNDLE.md commit_files.csv): relative to the repository root,
-- '/'-separated, no empty, '.' or '..' segment. Anything git could hold is accepted (spaces, '\', ...).
create or replace temp macro path_problem(x, what) as case
    when x is null or trim(x) = '' then null
    when starts_with(x, '/')
        then what || ' ' || x || ' is not relative to the repository root (no leading /)'
    when list_contains(string_split(x, '/'), '..') then what || ' ' || x || ' has a ''..'' segment'
    when list_contains(string_split(x, '/'), '.') then what || ' ' || x || ' has a ''.'' segment'
    when list_contains(string_split(x, '/'), '')
        then what || ' ' || x || ' has an empty segment (// or a trailing /)'
end;

-- the first bad pattern of a services.paths cell (';'-separated globs over such paths)
create or replace temp macro paths_problem(x) as
    list_filter(list_transform(label_list(x), lambda p: path_problem(p, 'pattern')), lambda m: m is not null)[1];

-- The tables of the warehouse `dora warehouse copy` reads from or writes to, in order (a lake's
-- information_schema also lists its PostgreSQL catalog's tables, hence the catalog filter).
select table_schema, table_name
from information_schema.tables
where table_catalog = current_database()
    and table_type = 'BASE TABLE'
    and table_schema not in ('information_schema', 'pg_catalog')
order by table_schema, table_name

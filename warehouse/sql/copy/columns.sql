-- The columns of one table ($1: schema, $2: table) of the warehouse, in their order, with their types.
select column_name, data_type
from information_schema.columns
where table_catalog = current_database() and table_schema = $1 and table_name = $2
order by ordinal_position

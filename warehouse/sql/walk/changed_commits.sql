-- The commits written since the last transform (all of them on a full rebuild).
select repo, sha, parents from core.commits where _load_id > getvariable('since_load_id')

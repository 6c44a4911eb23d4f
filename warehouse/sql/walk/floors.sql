-- The deployed shas without a floor yet: on the spine their floor is their position (inserted here);
-- the others are left in _walk_off_spine for warehouse/reach.py.
-- reads temp: _walk_unfloored
create or replace temp table _walk_unfloored as
select distinct repo, commit_sha as sha from marts.prod_deployments
where not is_unknown_sha
except
select repo, sha from walk_state.deployed;

insert into walk_state.deployed
select u.repo, u.sha, s.pos from _walk_unfloored as u join walk_state.spine as s using (repo, sha);

create or replace temp table _walk_off_spine as
select repo, sha from _walk_unfloored anti join walk_state.spine using (repo, sha);

-- The changes the affected commits belonged to before they are derived again: they may have lost them.
-- reads temp: _affected_commits
select change_id from marts.commit_changes semi join _affected_commits using (repo, sha)

-- The last recorded state of each component, and since when.
SELECT DISTINCT ON (component) component, to_state, at
FROM statuspage.state_changes
ORDER BY component, at DESC, id DESC;

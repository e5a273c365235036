-- The last recorded state of each component.
SELECT DISTINCT ON (component) component, to_state
FROM statuspage.state_changes
ORDER BY component, at DESC, id DESC;

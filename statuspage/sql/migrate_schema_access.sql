-- What the migrating role may do about the page's schema, looked up before touching it: CREATE SCHEMA
-- IF NOT EXISTS checks the CREATE privilege on the database before it looks for the schema, so a
-- role that was given its schema and nothing else (docs/health.md, "History") could not even run it.
SELECT current_user AS role,
       n.oid IS NOT NULL AS schema_exists,
       coalesce(has_schema_privilege(n.oid, 'CREATE') AND has_schema_privilege(n.oid, 'USAGE'), false)
           AS may_create_in_schema,
       has_database_privilege(current_database(), 'CREATE') AS may_create_schema
FROM (SELECT 1) AS one
LEFT JOIN pg_namespace AS n ON n.nspname = %(schema)s;

-- Backups (M11): `samtale backup create` must dump every row of every tenant. When the dump role
-- is neither a superuser nor BYPASSRLS (the usual samtale_owner), pg_dump and the manifest's
-- checksums run as samtale_system (`pg_dump --role`), which bypasses row-level security. This
-- lets samtale_system read every table, including ones it had no grant on (schema_migrations,
-- tables added later by the owner). Read only: no new write access.
grant select on all tables in schema public to samtale_system;
grant select on all sequences in schema public to samtale_system;
alter default privileges in schema public grant select on tables to samtale_system;
alter default privileges in schema public grant select on sequences to samtale_system;

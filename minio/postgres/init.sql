-- The storage node's PostgreSQL: Airflow's metadata database and the DuckLake catalog database.
-- Roles: Airflow's own; the pipeline's writer, which owns the catalog; a read-only role for the
-- dashboard and the notebooks. Run by init.sh with psql variables; idempotent (creates what is
-- missing, sets passwords, grants again).

-- roles
select format('create role %I login', :'airflow_user')
where not exists (select from pg_roles where rolname = :'airflow_user') \gexec
select format('create role %I login', :'writer_user')
where not exists (select from pg_roles where rolname = :'writer_user') \gexec
select format('create role %I login', :'reader_user')
where not exists (select from pg_roles where rolname = :'reader_user') \gexec
select format('alter role %I password %L', :'airflow_user', :'airflow_password') \gexec
select format('alter role %I password %L', :'writer_user', :'writer_password') \gexec
select format('alter role %I password %L', :'reader_user', :'reader_password') \gexec

-- databases: each owned by its writer; nobody else may connect unless granted below
select format('create database %I owner %I', :'airflow_db', :'airflow_user')
where not exists (select from pg_database where datname = :'airflow_db') \gexec
select format('create database %I owner %I', :'catalog_db', :'writer_user')
where not exists (select from pg_database where datname = :'catalog_db') \gexec
select format('revoke all on database %I from public', :'airflow_db') \gexec
select format('revoke all on database %I from public', :'catalog_db') \gexec
select format('grant connect on database %I to %I', :'catalog_db', :'reader_user') \gexec

-- inside the catalog: DuckLake keeps its metadata tables in schema public, created by the
-- writer when the pipeline first opens the lake; the reader may select from all of them,
-- also the ones created later, and nothing else
\connect :"catalog_db"
select format('alter schema public owner to %I', :'writer_user') \gexec
select format('grant usage on schema public to %I', :'reader_user') \gexec
select format('grant select on all tables in schema public to %I', :'reader_user') \gexec
select format('alter default privileges for role %I in schema public grant select on tables to %I',
              :'writer_user', :'reader_user') \gexec

-- The benchmark database: a service role, N user roles and an RLS table.
-- Run by scripts/bench as the superuser over the Unix socket:
--
--   psql -v users=200 -v password=… -f bench/sql/setup.sql
--
-- roles  bench_service          LOGIN, owns schema bench (RLS does not apply to it)
--        bench_u000 … bench_uNNN LOGIN NOSUPERUSER NOBYPASSRLS, members of bench_users
--        bench_authenticator    LOGIN NOINHERIT, member of bench_service and every
--                               bench_uNNN, no rights of its own (set_role mode)
-- table  bench.notes(id, owner, body), RLS policy owner = current_user,
--        10 rows per user: user i owns ids 10*i … 10*i+9
-- Every login role's password is :password (scram-sha-256 over TCP).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

SELECT set_config('bench.users', :'users', false) AS users,
       set_config('bench.password', :'password', false) IS NOT NULL AS password_set
\gset

DO $$
DECLARE
  n int := current_setting('bench.users')::int;
  pw text := current_setting('bench.password');
BEGIN
  EXECUTE format('CREATE ROLE bench_service LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %L', pw);
  EXECUTE format('CREATE ROLE bench_authenticator LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS '
                 'PASSWORD %L', pw);
  GRANT bench_service TO bench_authenticator;
  CREATE ROLE bench_users NOLOGIN;
  FOR i IN 0 .. n - 1 LOOP
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE bench_users PASSWORD %L',
                   'bench_u' || lpad(i::text, 3, '0'), pw);
    EXECUTE format('GRANT %I TO bench_authenticator', 'bench_u' || lpad(i::text, 3, '0'));
  END LOOP;
END
$$;

CREATE SCHEMA bench AUTHORIZATION bench_service;
CREATE TABLE bench.notes (
  id    integer PRIMARY KEY,
  owner name NOT NULL DEFAULT current_user,
  body  text NOT NULL
);
ALTER TABLE bench.notes OWNER TO bench_service;
ALTER TABLE bench.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_owner ON bench.notes USING (owner = current_user);
GRANT USAGE ON SCHEMA bench TO bench_users;
GRANT SELECT ON bench.notes TO bench_users;

INSERT INTO bench.notes (id, owner, body)
SELECT 10 * u + k, 'bench_u' || lpad(u::text, 3, '0'), 'note ' || k || ' of user ' || u
FROM generate_series(0, current_setting('bench.users')::int - 1) AS u,
     generate_series(0, 9) AS k;
ANALYZE bench.notes;

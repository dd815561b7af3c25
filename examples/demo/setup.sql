-- The demo's database: a service role that owns a notes table under
-- row-level security, and two users who each see only their own notes.
--
-- Run by examples/demo/with-demo-db with psql as the superuser, in a fresh
-- database, with the passwords as psql variables (:'service_password',
-- :'alice_password', :'bob_password'). Roles belong to the whole server, so
-- they are created only if missing and their settings are applied again.
\set ON_ERROR_STOP on

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'notes_service') THEN
    CREATE ROLE notes_service;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'alice@example.com') THEN
    CREATE ROLE "alice@example.com";
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bob@example.com') THEN
    CREATE ROLE "bob@example.com";
  END IF;
END $$;

-- None of them may bypass row-level security: no SUPERUSER, no BYPASSRLS.
-- (pgobo refuses such a role for a user pool with UnsafeRole.)
ALTER ROLE notes_service LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD :'service_password';
ALTER ROLE "alice@example.com" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD :'alice_password';
ALTER ROLE "bob@example.com" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD :'bob_password';

CREATE SCHEMA app AUTHORIZATION notes_service;
SET ROLE notes_service;
CREATE TABLE app.notes (
  id bigserial PRIMARY KEY,
  owner text NOT NULL DEFAULT current_user,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- snippet-begin: rls
-- Every role but the table's owner (the service) sees and writes only the rows
-- it owns. USING filters what a user reads, updates and deletes; WITH CHECK
-- refuses a row written for someone else.
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON app.notes FOR ALL TO PUBLIC
  USING (owner = current_user) WITH CHECK (owner = current_user);
GRANT USAGE ON SCHEMA app TO "alice@example.com", "bob@example.com";
GRANT SELECT, INSERT, UPDATE, DELETE ON app.notes TO "alice@example.com", "bob@example.com";
GRANT USAGE ON SEQUENCE app.notes_id_seq TO "alice@example.com", "bob@example.com";
-- snippet-end
INSERT INTO app.notes (owner, body) VALUES
  ('alice@example.com', 'buy oat milk'),
  ('alice@example.com', 'book the dentist'),
  ('bob@example.com', 'fix the bike light');
RESET ROLE;

-- The demo's database: a service role that owns a notes table with row-level
-- security, and two users who each see only their own notes.
-- Run by scripts/demo with psql as the superuser, with the passwords passed as
-- psql variables (:'service_password', :'alice_password', :'bob_password').
\set ON_ERROR_STOP on

CREATE ROLE notes_service LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'service_password';
CREATE ROLE "alice@example.com" LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'alice_password';
CREATE ROLE "bob@example.com" LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'bob_password';

CREATE SCHEMA app AUTHORIZATION notes_service;
SET ROLE notes_service;
CREATE TABLE app.notes (
  id bigserial PRIMARY KEY,
  owner text NOT NULL DEFAULT current_user,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- RLS applies to every role but the table's owner (the service).
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON app.notes FOR ALL TO PUBLIC
  USING (owner = current_user) WITH CHECK (owner = current_user);
GRANT USAGE ON SCHEMA app TO "alice@example.com", "bob@example.com";
GRANT SELECT, INSERT, UPDATE, DELETE ON app.notes TO "alice@example.com", "bob@example.com";
GRANT USAGE ON SEQUENCE app.notes_id_seq TO "alice@example.com", "bob@example.com";
INSERT INTO app.notes (owner, body) VALUES
  ('alice@example.com', 'buy oat milk'),
  ('alice@example.com', 'book the dentist'),
  ('bob@example.com', 'fix the bike light');
RESET ROLE;

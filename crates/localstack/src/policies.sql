-- Who may read the event tables and use the queues: signed-in operators.
--
-- An operator is a user whose `app_metadata` has `"sluice_operator": true`.
-- Only the service role can write `app_metadata` (the admin API, or SQL on
-- `auth.users.raw_app_meta_data`); Auth copies it into every access token,
-- and PostgREST hands the token's claims to the transaction, where
-- `auth.jwt()` reads them. The check is wrapped in `(SELECT ...)` so that
-- PostgreSQL evaluates it once per statement rather than once per row
-- (Supabase docs, "Row Level Security": "RLS performance
-- recommendations", wrap functions with select).
--
-- On a Supabase project the same statements protect a table:
--
--   ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;
--   CREATE POLICY sluice_operator_select ON public.events
--     FOR SELECT TO authenticated
--     USING ((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true');
--
-- and a queue, its dead-letter queue and their archives (pgmq's tables
-- `pgmq.q_{queue}` and `pgmq.a_{queue}`; pgmq_public's functions run as the
-- caller, so these policies decide what they may touch: `send` inserts,
-- `read` updates (and selects), `pop`, `archive` and `delete` delete, and
-- `archive` inserts into the archive and answers the `msg_id`), one policy
-- per command, so that a refusal names the command it refused:
--
--   ALTER TABLE pgmq.q_order_jobs ENABLE ROW LEVEL SECURITY;
--   CREATE POLICY sluice_operator_select ON pgmq.q_order_jobs FOR SELECT TO authenticated
--     USING ((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true');
--   CREATE POLICY sluice_operator_insert ON pgmq.q_order_jobs FOR INSERT TO authenticated
--     WITH CHECK ((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true');
--   CREATE POLICY sluice_operator_update ON pgmq.q_order_jobs FOR UPDATE TO authenticated
--     USING (...the same...) WITH CHECK (...the same...);
--   CREATE POLICY sluice_operator_delete ON pgmq.q_order_jobs FOR DELETE TO authenticated
--     USING (...the same...);
--   ALTER TABLE pgmq.a_order_jobs ENABLE ROW LEVEL SECURITY;
--   CREATE POLICY sluice_operator_select ON pgmq.a_order_jobs ... (select, as above)
--   CREATE POLICY sluice_operator_insert ON pgmq.a_order_jobs ... (insert, as above)
--
-- with the grants pgmq_public needs (queues.sql): select, insert, update
-- and delete on the queue table; insert, and select of `msg_id`, on the
-- archive table. Other signed-in users match no policy: they read nothing
-- and may send nothing. The anon key matches none: it reads nothing and
-- may send nothing (a test facility may open a table or a queue to it, to
-- test the key-only path: `open_table_to_anon`, `protect_queue`'s
-- `open_to_anon`).
--
-- Idempotent: a policy that exists is left as it is (no lock taken).

CREATE SCHEMA IF NOT EXISTS sluice_stack;

-- The operator check, as text, for the policies below.
CREATE OR REPLACE FUNCTION sluice_stack.operator_check() RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT $check$(SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true'$check$
$$;

-- `CREATE POLICY {name} ON {table} {rest}` unless the table has a policy of
-- that name.
CREATE OR REPLACE FUNCTION sluice_stack.ensure_policy(target regclass, name text, rest text)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = target AND polname = name) THEN
    EXECUTE format('CREATE POLICY %I ON %s %s', name, target, rest);
  END IF;
END;
$$;

CREATE OR REPLACE FUNCTION sluice_stack.drop_policy(target regclass, name text)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT FROM pg_policy WHERE polrelid = target AND polname = name) THEN
    EXECUTE format('DROP POLICY %I ON %s', name, target);
  END IF;
END;
$$;

CREATE OR REPLACE FUNCTION sluice_stack.enable_rls(target regclass)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (SELECT relrowsecurity FROM pg_class WHERE oid = target) THEN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  END IF;
END;
$$;

-- An event table: operators read it.
CREATE OR REPLACE FUNCTION sluice_stack.protect_table(target regclass)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sluice_stack.enable_rls(target);
  PERFORM sluice_stack.ensure_policy(target, 'sluice_operator_select',
    format('FOR SELECT TO authenticated USING (%s)', sluice_stack.operator_check()));
END;
$$;

-- A test facility: a table the anon key reads, for the key-only path.
CREATE OR REPLACE FUNCTION sluice_stack.open_table_to_anon(target regclass, open boolean)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF open THEN
    PERFORM sluice_stack.ensure_policy(target, 'sluice_stack: open to anon', 'FOR SELECT TO anon USING (true)');
  ELSE
    PERFORM sluice_stack.drop_policy(target, 'sluice_stack: open to anon');
  END IF;
END;
$$;

-- The policies of one command on a table: `USING` for select and delete,
-- `WITH CHECK` for insert, both for update.
CREATE OR REPLACE FUNCTION sluice_stack.ensure_command_policy(target regclass, name text, command text, role text, check_sql text)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sluice_stack.ensure_policy(target, name, format('FOR %s TO %s %s', command, role,
    CASE command
      WHEN 'INSERT' THEN format('WITH CHECK (%s)', check_sql)
      WHEN 'UPDATE' THEN format('USING (%1$s) WITH CHECK (%1$s)', check_sql)
      ELSE format('USING (%s)', check_sql)
    END));
END;
$$;

-- A queue's table and its archive: operators may do what the grants allow,
-- one policy per command (and anon too with `open_to_anon`, a test
-- facility for the key-only path).
CREATE OR REPLACE FUNCTION sluice_stack.protect_queue(queue_name text, open_to_anon boolean)
  RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  queue_table regclass := format('pgmq.%I', pgmq.format_table_name(queue_name, 'q'))::regclass;
  archive_table regclass := format('pgmq.%I', pgmq.format_table_name(queue_name, 'a'))::regclass;
  command text;
BEGIN
  PERFORM sluice_stack.enable_rls(queue_table);
  PERFORM sluice_stack.enable_rls(archive_table);
  FOREACH command IN ARRAY ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] LOOP
    PERFORM sluice_stack.ensure_command_policy(queue_table, 'sluice_operator_' || lower(command),
      command, 'authenticated', sluice_stack.operator_check());
  END LOOP;
  FOREACH command IN ARRAY ARRAY['SELECT', 'INSERT'] LOOP
    PERFORM sluice_stack.ensure_command_policy(archive_table, 'sluice_operator_' || lower(command),
      command, 'authenticated', sluice_stack.operator_check());
  END LOOP;
  IF open_to_anon THEN
    PERFORM sluice_stack.ensure_policy(queue_table, 'sluice_stack: open to anon',
      'FOR ALL TO anon USING (true) WITH CHECK (true)');
    PERFORM sluice_stack.ensure_policy(archive_table, 'sluice_stack: open to anon',
      'FOR ALL TO anon USING (true) WITH CHECK (true)');
  END IF;
END;
$$;

SELECT sluice_stack.protect_table(t::regclass)
  FROM unnest(ARRAY['public.staff_room_events', 'public.temp_events', 'public.events', 'public.trello_events']) AS t;

-- The database side of the local Realtime (docs/local-stack.md, "Realtime").
--
-- As on Supabase, the publication `supabase_realtime` decides which tables
-- are live: `ALTER PUBLICATION supabase_realtime ADD TABLE ...` makes one
-- live at once. Supabase's Realtime reads the publication's changes from
-- the write-ahead log; this stack, which cannot ask for `wal_level =
-- logical` on a shared machine, has each published table send the identity
-- of every inserted row with `pg_notify` (delivered at commit, so only
-- committed rows arrive; NOTIFY's payloads are limited to 8,000 bytes). The stack then reads each row again as each
-- subscriber, under that subscriber's role and claims, before sending it.
-- A row whose identity would not fit (a primary key of several kilobytes)
-- is not announced rather than let its insert fail; the app's safety read
-- finds it.
--
-- Idempotent. Run as the database's owner (a superuser: event triggers).

CREATE SCHEMA IF NOT EXISTS sluice_realtime;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime;
  END IF;
END $$;

-- Sends `{"schema", "table", "type", "pk": {column: value}}` on the channel
-- `sluice_realtime` for each inserted row of a published table.
CREATE OR REPLACE FUNCTION sluice_realtime.notify() RETURNS trigger
  LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  row_json jsonb := to_jsonb(NEW);
  pk jsonb;
  notice text;
BEGIN
  -- A table taken out of the publication keeps its trigger: it stays quiet.
  IF NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_publication_tables
    WHERE pubname = 'supabase_realtime' AND schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
  ) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(jsonb_object_agg(a.attname, row_json -> a.attname::text), '{}'::jsonb) INTO pk
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
  WHERE i.indrelid = TG_RELID AND i.indisprimary;
  notice := jsonb_build_object(
    'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'type', TG_OP, 'pk', pk,
    'commit_timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text;
  IF octet_length(notice) > 7900 THEN
    RAISE WARNING 'sluice_realtime: the identity of a row of %.% is too long to announce', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    RETURN NULL;
  END IF;
  PERFORM pg_catalog.pg_notify('sluice_realtime', notice);
  RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION sluice_realtime.notify() FROM PUBLIC;

-- Gives every table of the publication the trigger above (a no-op for
-- those that have it).
CREATE OR REPLACE FUNCTION sluice_realtime.attach_triggers() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  published record;
BEGIN
  FOR published IN
    SELECT c.oid AS relid, p.schemaname, p.tablename
    FROM pg_catalog.pg_publication_tables p
    JOIN pg_catalog.pg_namespace n ON n.nspname = p.schemaname
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
    WHERE p.pubname = 'supabase_realtime'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                      WHERE t.tgrelid = c.oid AND t.tgname = 'sluice_realtime_notify')
  LOOP
    EXECUTE format(
      'CREATE TRIGGER sluice_realtime_notify AFTER INSERT ON %I.%I FOR EACH ROW EXECUTE FUNCTION sluice_realtime.notify()',
      published.schemaname, published.tablename);
  END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION sluice_realtime.attach_triggers() FROM PUBLIC;

-- After DDL that may add a table to the publication: attach. Never lets the
-- DDL itself fail.
CREATE OR REPLACE FUNCTION sluice_realtime.on_ddl() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM sluice_realtime.attach_triggers();
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'sluice_realtime: could not attach triggers: %', SQLERRM;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'sluice_realtime_on_ddl') THEN
    CREATE EVENT TRIGGER sluice_realtime_on_ddl ON ddl_command_end
      WHEN TAG IN ('ALTER PUBLICATION', 'CREATE PUBLICATION')
      EXECUTE FUNCTION sluice_realtime.on_ddl();
  END IF;
END $$;

-- The stack's own tables and queues are live, as a project whose operator
-- followed the README's recipe.
DO $$
DECLARE
  live text;
BEGIN
  FOREACH live IN ARRAY ARRAY['public.staff_room_events', 'public.temp_events', 'public.events',
                              'public.trello_events', 'pgmq.q_order_jobs', 'pgmq.q_email_jobs'] LOOP
    IF to_regclass(live) IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_publication_tables
      WHERE pubname = 'supabase_realtime' AND format('%I.%I', schemaname, tablename) = live
    ) THEN
      EXECUTE format('ALTER PUBLICATION supabase_realtime ADD TABLE %s', live);
    END IF;
  END LOOP;
END $$;

SELECT sluice_realtime.attach_triggers();

-- Private channels (Realtime Authorization). Realtime lets a subscriber
-- join a private channel when a probe message on the channel's topic in
-- `realtime.messages` is visible to them: it inserts the probe over its
-- own connection (the table's owner), then selects it back under the
-- subscriber's role, claims and `realtime.topic`, and rolls back.
CREATE SCHEMA IF NOT EXISTS realtime;
CREATE TABLE IF NOT EXISTS realtime.messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  topic text NOT NULL,
  extension text NOT NULL,
  inserted_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, service_role;
GRANT SELECT ON realtime.messages TO anon, authenticated, service_role;
CREATE OR REPLACE FUNCTION realtime.topic() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('realtime.topic', true), '')::text $$;

-- Realtime's own connection, which owns realtime.messages, stands behind
-- this function: the gateway's `authenticator` may only add a probe.
CREATE OR REPLACE FUNCTION sluice_realtime.probe(channel_topic text) RETURNS uuid
  LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  INSERT INTO realtime.messages (topic, extension) VALUES (channel_topic, 'broadcast') RETURNING id
$$;
REVOKE EXECUTE ON FUNCTION sluice_realtime.probe(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA sluice_realtime TO authenticator;
GRANT EXECUTE ON FUNCTION sluice_realtime.probe(text) TO authenticator;

-- The README's policy: operators may join Sluice's private channels.
DROP POLICY IF EXISTS sluice_operator_channels ON realtime.messages;
CREATE POLICY sluice_operator_channels ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator') = 'true'
         AND (SELECT realtime.topic()) LIKE 'sluice:%');

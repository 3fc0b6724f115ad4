-- Supabase Queues on the local stack, after pgmq itself is installed (by the
-- pgmq crate's embedded installer, see queues.rs).
--
-- 1. `pgmq_public`, as Studio's "Expose Queues via PostgREST" toggle creates
--    it (supabase/supabase packages/pg-meta/src/sql/studio/database/queues.ts):
--    six plpgsql wrappers, security invoker, `search_path = ''`, and the
--    grants that toggle makes. pgmq 1.11 renamed two signatures, as that
--    file's "newer pgmq" branch allows for: `pgmq.read` has a fourth
--    argument `conditional jsonb`, and `pgmq.pop` takes `qty` (default 1).
-- 2. A local helper, `sluice_stack.create_queue`, that creates a queue and
--    its dead-letter queue with row-level security on their tables and
--    policies that let signed-in operators use them (policies.sql), with the
--    grants the Queues quickstart asks for. `sluice_stack` is not exposed
--    through the gateway.

CREATE SCHEMA IF NOT EXISTS pgmq_public;
GRANT USAGE ON SCHEMA pgmq_public TO postgres, anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION pgmq_public.pop(queue_name text)
  RETURNS SETOF pgmq.message_record
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN QUERY SELECT * FROM pgmq.pop(queue_name := queue_name);
END;
$$;
COMMENT ON FUNCTION pgmq_public.pop(text) IS 'Retrieves and locks the next message from the specified queue.';

CREATE OR REPLACE FUNCTION pgmq_public.send(queue_name text, message jsonb, sleep_seconds integer DEFAULT 0)
  RETURNS SETOF bigint
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN QUERY SELECT * FROM pgmq.send(queue_name := queue_name, msg := message, delay := sleep_seconds);
END;
$$;
COMMENT ON FUNCTION pgmq_public.send(text, jsonb, integer) IS 'Sends a message to the specified queue, optionally delaying its availability by a number of seconds.';

CREATE OR REPLACE FUNCTION pgmq_public.send_batch(queue_name text, messages jsonb[], sleep_seconds integer DEFAULT 0)
  RETURNS SETOF bigint
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN QUERY SELECT * FROM pgmq.send_batch(queue_name := queue_name, msgs := messages, delay := sleep_seconds);
END;
$$;
COMMENT ON FUNCTION pgmq_public.send_batch(text, jsonb[], integer) IS 'Sends a batch of messages to the specified queue, optionally delaying their availability by a number of seconds.';

CREATE OR REPLACE FUNCTION pgmq_public.archive(queue_name text, message_id bigint)
  RETURNS boolean
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN pgmq.archive(queue_name := queue_name, msg_id := message_id);
END;
$$;
COMMENT ON FUNCTION pgmq_public.archive(text, bigint) IS 'Archives a message by moving it from the queue to a permanent archive.';

CREATE OR REPLACE FUNCTION pgmq_public.delete(queue_name text, message_id bigint)
  RETURNS boolean
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN pgmq.delete(queue_name := queue_name, msg_id := message_id);
END;
$$;
COMMENT ON FUNCTION pgmq_public.delete(text, bigint) IS 'Permanently deletes a message from the specified queue.';

CREATE OR REPLACE FUNCTION pgmq_public.read(queue_name text, sleep_seconds integer, n integer)
  RETURNS SETOF pgmq.message_record
  LANGUAGE plpgsql
  SET search_path = ''
AS $$
BEGIN
  RETURN QUERY SELECT * FROM pgmq.read(queue_name := queue_name, vt := sleep_seconds, qty := n, conditional := '{}'::jsonb);
END;
$$;
COMMENT ON FUNCTION pgmq_public.read(text, integer, integer) IS 'Reads up to "n" messages from the specified queue with an optional "sleep_seconds" (visibility timeout).';

GRANT EXECUTE ON FUNCTION pgmq_public.pop(text) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.pop(text, integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq_public.send(text, jsonb, integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq_public.send_batch(text, jsonb[], integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq_public.archive(text, bigint) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.archive(text, bigint) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq_public.delete(text, bigint) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.delete(text, bigint) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq_public.read(text, integer, integer) TO postgres, service_role, anon, authenticated;
GRANT EXECUTE ON FUNCTION pgmq.read(text, integer, integer, jsonb) TO postgres, service_role, anon, authenticated;

GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA pgmq TO postgres, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT ALL PRIVILEGES ON TABLES TO postgres, service_role;
GRANT USAGE ON SCHEMA pgmq TO postgres, anon, authenticated, service_role;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA pgmq TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO anon, authenticated, service_role;

CREATE SCHEMA IF NOT EXISTS sluice_stack;

-- A queue and its dead-letter queue, each with row-level security on its
-- table and its archive, protected for signed-in operators
-- (`sluice_stack.protect_queue`, policies.sql), with the grants pgmq_public
-- needs: the API roles may send (select, insert), read (select, update) and
-- archive or delete (select, delete) what the policies let them; archiving
-- moves the row into the archive table and returns its id, so insert, and
-- select on that one column, nothing to read back. Idempotent (pgmq.create
-- is, and so are the policies).
DROP FUNCTION IF EXISTS sluice_stack.create_queue(text, text);
CREATE OR REPLACE FUNCTION sluice_stack.create_queue(queue_name text, dead_letter_queue text, open_to_anon boolean DEFAULT false)
  RETURNS void
  LANGUAGE plpgsql
AS $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY[queue_name, dead_letter_queue] LOOP
    PERFORM pgmq.create(name);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON pgmq.%I TO anon, authenticated', pgmq.format_table_name(name, 'q'));
    EXECUTE format('GRANT INSERT, SELECT (msg_id) ON pgmq.%I TO anon, authenticated', pgmq.format_table_name(name, 'a'));
    PERFORM sluice_stack.protect_queue(name, open_to_anon);
  END LOOP;
END;
$$;

-- A queue's length for signed-in operators: pgmq_public exposes no
-- metrics, so the README's recipe adds this one function beside it, in
-- `public`. It runs as its owner (pgmq's `metrics()` counts rows the
-- caller's policies may hide) and so checks the operator claim itself.
CREATE OR REPLACE FUNCTION public.sluice_queue_metrics(queue_name text)
  RETURNS TABLE (queue_length bigint, queue_visible_length bigint, oldest_msg_age_sec int,
                 newest_msg_age_sec int, total_messages bigint, scrape_time timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF coalesce((SELECT auth.jwt() -> 'app_metadata' ->> 'sluice_operator'), '') <> 'true' THEN
    RAISE EXCEPTION 'only operators may read queue metrics' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT m.queue_length, m.queue_visible_length, m.oldest_msg_age_sec,
    m.newest_msg_age_sec, m.total_messages, m.scrape_time FROM pgmq.metrics(queue_name) m;
END;
$$;
REVOKE EXECUTE ON FUNCTION public.sluice_queue_metrics(text) FROM public, anon;
GRANT EXECUTE ON FUNCTION public.sluice_queue_metrics(text) TO authenticated;

-- Up Migration
-- Erasure of chats (issue 19, docs/privacy.md sections 5 and 6): the privacy service calls
-- erase_chats(tenant, scopes) after it has crypto-shredded their keys, and again after the key cache TTL (the
-- sweep), so the function is idempotent. Returns the rows anonymised.
--
-- Every personal column of this schema (a new personal column must be added here; the test lists every
-- text/json column of the schema to catch one that is not):
--   ratings.comment     set null; the rating fact stays, so every count and score is unchanged
-- Not personal, kept: ids (chats, threads, entries, agents, visitors, customers), kinds, times, tags, groups,
-- statuses, reasons, time zones. Messages' texts are never stored here.
--
-- `set search_path from current` pins the schema this migration runs in (the configurable ANALYTICS_SCHEMA), so
-- the function finds its tables whatever the caller's search_path.
create function erase_chats(p_tenant text, p_chat_ids text[]) returns bigint
  language plpgsql
  set search_path from current
as $$
declare
  v_rows bigint;
begin
  if p_tenant is null then
    raise exception 'erase_chats: p_tenant is null';
  end if;
  update ratings set comment = null
   where tenant = p_tenant and chat_id = any(coalesce(p_chat_ids, '{}')) and comment is not null;
  get diagnostics v_rows = row_count;
  return v_rows;
end
$$;

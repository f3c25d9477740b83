-- Up Migration
-- Erasure of chats (issue 19, docs/privacy.md sections 5 and 6): the privacy service calls
-- erase_chats(tenant, scopes) after it has crypto-shredded their keys, and again after the key cache TTL (the
-- sweep), so the function is idempotent. Returns the rows anonymised.
--
-- Every personal column of this schema (a new personal column must be added here; the test lists every
-- text/json column of the schema to catch one that is not):
--   ratings.comment     a `comment` fact is deleted (a replay of the erased event makes none), any other fact's
--                       comment set null; score facts stay, so every count and score is unchanged
--   transfers.reason    set null unless it is one of LiveChat's enum values (manual, inactive, assigned, unassigned,
--                       other): free text may be personal, and the erased event's stand-in keeps only those values
-- Not personal, kept: ids (chats, threads, entries, agents, visitors, customers), kinds, times, tags, groups,
-- statuses, enum transfer reasons, time zones. Messages' texts are never stored here.
--
-- `set search_path from current` pins the schema this migration runs in (the configurable ANALYTICS_SCHEMA), so
-- the function finds its tables whatever the caller's search_path.
create function erase_chats(p_tenant text, p_chat_ids text[]) returns bigint
  language plpgsql
  set search_path from current
as $$
declare
  v_rows bigint;
  v_more bigint;
begin
  if p_tenant is null then
    raise exception 'erase_chats: p_tenant is null';
  end if;
  -- A comment fact is deleted (an erased event, replayed, carries no comment, so it makes no such row: live and
  -- rebuilt facts agree); any other rating fact keeps its row with the comment cleared.
  delete from ratings
   where tenant = p_tenant and chat_id = any(coalesce(p_chat_ids, '{}')) and kind = 'comment';
  get diagnostics v_rows = row_count;
  update ratings set comment = null
   where tenant = p_tenant and chat_id = any(coalesce(p_chat_ids, '{}')) and comment is not null;
  get diagnostics v_more = row_count;
  v_rows := v_rows + v_more;
  update transfers set reason = null
   where tenant = p_tenant and chat_id = any(coalesce(p_chat_ids, '{}')) and reason is not null
     and reason not in ('manual', 'inactive', 'assigned', 'unassigned', 'other');
  get diagnostics v_more = row_count;
  return v_rows + v_more;
end
$$;

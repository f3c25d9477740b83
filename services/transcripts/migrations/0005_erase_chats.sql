-- Up Migration
-- Erasure of chats (issue 19, docs/privacy.md sections 5 and 6): the privacy service calls
-- erase_chats(tenant, scopes) after it has crypto-shredded their keys, and again after the key cache TTL (the
-- sweep), so the function is idempotent. p_chat_ids holds key scopes: chat ids, and `customer:<id>`,
-- `visitor:<id>`, `ticket:<id>` for data outside a chat. Returns the rows deleted or anonymised.
--
-- Every personal column of this schema and what happens to it (a new personal column must be added here; the
-- test lists every text/json column of the schema to catch one that is not):
--   entries.text, entries.author_name, entries.content           the chats' entries are deleted
--   participants.name, participants.email                         the chats' participants are deleted
--   survey_answers.answer, survey_answers.answers                 the chats' survey answers are deleted
--   customers.name, .email, .session_fields, .visit               the customers of the customer:/visitor: scopes,
--                                                                 and the chats' customers (chat's customer,
--                                                                 customer participants and authors) with no chat
--                                                                 left outside the erased ones, are deleted; a
--                                                                 customer who keeps other chats keeps the row:
--                                                                 name/email stay only where a kept chat's
--                                                                 participant row carries the same value (else
--                                                                 null), session_fields/visit (no chat to tell
--                                                                 them by) are set null; the next event of the
--                                                                 customer or a rebuild fills them again
--   tickets.subject, .requester_name, .requester_email, .body     tickets of ticket: scopes or made from the chats
--   threads.summary_text                                          set null (the thread row stays)
-- Not personal, kept: ids, kinds, times, tags, groups (chats, threads, thread_tags rows stay, so counts by tag or
-- group still see the chat); agents.name/email (employees, docs/privacy.md section 1); canned_responses.text (the
-- tenant's own templates).
--
-- `set search_path from current` pins the schema this migration runs in (the configurable TRANSCRIPTS_SCHEMA), so
-- the function finds its tables whatever the caller's search_path.
create function erase_chats(p_tenant text, p_chat_ids text[]) returns bigint
  language plpgsql
  set search_path from current
as $$
declare
  v_scopes text[] := coalesce(p_chat_ids, '{}');
  v_customers text[];
  v_retained text[];
  v_tickets text[];
  v_rows bigint := 0;
  v_n bigint;
begin
  if p_tenant is null then
    raise exception 'erase_chats: p_tenant is null';
  end if;
  -- The consumer upserts `chats` first in every transaction, then threads, entries, participants, customers (in key
  -- order), survey_answers, tickets: locking the chats' rows first (in key order) makes an erasure and a batch of the
  -- same chat wait for each other instead of deadlocking.
  perform 1 from chats where tenant = p_tenant and chat_id = any(v_scopes) order by chat_id for update;
  select coalesce(array_agg(distinct id), '{}') into v_customers from (
    select customer_id as id from chats
     where tenant = p_tenant and chat_id = any(v_scopes) and customer_id is not null
    union
    select user_id from participants where tenant = p_tenant and chat_id = any(v_scopes) and kind = 'customer'
    union
    select author_id from entries
     where tenant = p_tenant and chat_id = any(v_scopes) and author_kind = 'customer' and author_id is not null
    union
    select substr(s, length('customer:') + 1) from unnest(v_scopes) as s where s like 'customer:%'
    union
    select substr(s, length('visitor:') + 1) from unnest(v_scopes) as s where s like 'visitor:%'
  ) as x;
  -- Customers with a chat that is not erased keep their row (the scopes customer:/visitor: erase it regardless).
  select coalesce(array_agg(id), '{}') into v_retained from unnest(v_customers) as id
   where not ('customer:' || id = any(v_scopes) or 'visitor:' || id = any(v_scopes))
     and (exists (select 1 from chats c where c.tenant = p_tenant and c.customer_id = id
                   and c.chat_id <> all(v_scopes))
          or exists (select 1 from participants p where p.tenant = p_tenant and p.user_id = id
                      and p.chat_id <> all(v_scopes)));
  select coalesce(array_agg(distinct substr(s, length('ticket:') + 1)), '{}') into v_tickets
    from unnest(v_scopes) as s where s like 'ticket:%';

  perform 1 from customers where tenant = p_tenant and customer_id = any(v_customers) order by customer_id for update;
  update customers cu set
      name = case when exists (select 1 from participants p where p.tenant = p_tenant and p.user_id = cu.customer_id
                                 and p.chat_id <> all(v_scopes) and p.name = cu.name) then cu.name end,
      email = case when exists (select 1 from participants p where p.tenant = p_tenant and p.user_id = cu.customer_id
                                  and p.chat_id <> all(v_scopes) and p.email = cu.email) then cu.email end,
      session_fields = null,
      visit = null
   where cu.tenant = p_tenant and cu.customer_id = any(v_retained)
     and (cu.session_fields is not null or cu.visit is not null
          or cu.name is not null and not exists (select 1 from participants p where p.tenant = p_tenant
               and p.user_id = cu.customer_id and p.chat_id <> all(v_scopes) and p.name = cu.name)
          or cu.email is not null and not exists (select 1 from participants p where p.tenant = p_tenant
               and p.user_id = cu.customer_id and p.chat_id <> all(v_scopes) and p.email = cu.email));
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  delete from entries where tenant = p_tenant and chat_id = any(v_scopes);
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  delete from participants where tenant = p_tenant and chat_id = any(v_scopes);
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  delete from survey_answers where tenant = p_tenant and chat_id = any(v_scopes);
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  delete from customers where tenant = p_tenant and customer_id = any(v_customers) and customer_id <> all(v_retained);
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  delete from tickets
   where tenant = p_tenant and (ticket_id = any(v_tickets) or source_chat_id = any(v_scopes));
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  update threads set summary_text = null
   where tenant = p_tenant and chat_id = any(v_scopes) and summary_text is not null;
  get diagnostics v_n = row_count; v_rows := v_rows + v_n;
  return v_rows;
end
$$;

-- erase_chats finds the tickets made from the chats by source_chat_id; retention calls it many times a day.
create index if not exists tickets_source_chat on tickets (tenant, source_chat_id);

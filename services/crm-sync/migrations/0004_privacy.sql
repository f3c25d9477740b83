-- Up Migration
-- Erasure of a customer (issue 19, docs/privacy.md sections 5 and 6): the privacy service calls
-- erase_chats(tenant, chat ids, request id) with its own connection; crm-sync's worker then deletes the notes it
-- made in HubSpot. The contact itself is the tenant's record in their CRM: it is listed for the tenant to erase.

-- `erased`: the thread's chat was erased; the worker never claims it and no later event brings it back.
alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check
  check (status in ('pending', 'done', 'dead', 'no_token', 'erased'));

-- Chats erased: a later event of one (a late or replayed record) never makes an outbox intent again, for its old
-- threads or a new one. Ids only.
create table erased_chats (
  tenant text not null,
  chat_id text not null,
  request_id text,
  erased_at timestamptz not null default now(),
  primary key (tenant, chat_id)
);

-- What crm-sync must remove from HubSpot after an erasure, per (request, account, contact): the notes it created
-- (`note_ids`, removed from the array as they are deleted) and the sync keys of notes whose create was in doubt
-- (`lookup_keys`: looked up among the contact's notes, deleted when found). `pending` → the worker deletes them →
-- `contact_manual` (the contact stays in HubSpot for the tenant to erase: crm-sync's README) or `notes_deleted`
-- (no contact known). HubSpot ids and hashes only: never a name or an e-mail.
create table hubspot_erasures (
  id bigserial primary key,
  tenant text not null,
  request_id text,
  account text,
  contact_id text,
  note_ids text[] not null default '{}',
  lookup_keys text[] not null default '{}',
  -- The latest start of those doubtful creates: HubSpot may still write such a note until HUBSPOT_TIMEOUT_MS and
  -- HUBSPOT_LOOKUP_DELAY_MS past it, so the worker looks up no sooner (a "not found" before would be final).
  lookup_after timestamptz,
  notes_deleted int not null default 0,
  -- `contact_erased`: the tenant erased the contact in HubSpot and said so (`pnpm crm erasures done --id N`); the
  -- contact id is then cleared.
  status text not null default 'pending'
    check (status in ('pending', 'notes_deleted', 'contact_manual', 'contact_erased')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  claim_token uuid,
  last_error_code text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index hubspot_erasures_due on hubspot_erasures (next_attempt_at) where status = 'pending';
create index hubspot_erasures_tenant on hubspot_erasures (tenant, created_at);

-- The key of an e-mail in `contacts`, computed here only (the worker's rememberContacts and erase_chats both call
-- it), so a key written is always the key erased, whatever the database's collation does to non-ASCII letters.
create function email_key(p_email text) returns text
language sql immutable
as $$ select lower(regexp_replace(p_email, '^\s+|\s+$', '', 'g')) $$;

-- Removes every personal value of the chats from this schema and returns the number of rows removed or changed.
-- The personal columns of the schema (keep this list true when a migration adds one):
--   customers.name, customers.email, customers.session_fields    (the row is deleted when no other chat uses it)
--   participants.name                                            (rows of the chats deleted)
--   entries.text, author_name, file_name, file_url               (rows of the chats deleted)
--   threads.rating_comment                                       (rows of the chats deleted, with thread_tags)
--   contacts.email_key                                           (rows of the customer's e-mail and of the notes' contacts deleted)
--   dead_letters.message, hubspot_error (HubSpot may quote the e-mail)  (rows of the chats deleted)
-- Not personal (ids, times, hashes): chats, outbox, notes, connections, erased_chats, hubspot_erasures.
-- The chats' outbox rows become `erased` (their claim token cleared, so a worker syncing one now writes nothing
-- back), their notes rows move to hubspot_erasures (`pending`) for the worker to delete in HubSpot. Idempotent: a
-- second call (the sweep after the key cache's TTL) removes what a racing consumer or worker wrote meanwhile.
-- `set search_path from current`: the names resolve in the schema this migration runs in, whatever the caller's
-- search_path.
create function erase_chats(p_tenant text, p_chat_ids text[], p_request_id text) returns bigint
language plpgsql
set search_path from current
as $$
declare
  n bigint := 0;
  c bigint;
  v_accounts text[];
  v_customers text[];
  v_email_keys text[];
  v_contact_ids text[];
begin
  if p_tenant is null or p_chat_ids is null or cardinality(p_chat_ids) = 0 then
    return 0;
  end if;

  -- The tenant's HubSpot accounts (hashes of its tokens): contact ids are kept per account.
  select coalesce(array_agg(distinct a.account), '{}') into v_accounts
  from (select account from connections where tenant = p_tenant
        union select account from notes where tenant = p_tenant) a;

  insert into erased_chats (tenant, chat_id, request_id)
  select p_tenant, x, p_request_id from unnest(p_chat_ids) as x order by x
  on conflict (tenant, chat_id) do nothing;

  -- The outbox first (locks its rows): a worker's claim of them is void from here on.
  with o as (
    select tenant, chat_id, thread_id from outbox
    where tenant = p_tenant and chat_id = any(p_chat_ids) and status <> 'erased'
    order by tenant, chat_id, thread_id
    for update)
  update outbox u set status = 'erased', claim_token = null, claimed_until = null, last_error_code = null,
    updated_at = now()
  from o where u.tenant = o.tenant and u.chat_id = o.chat_id and u.thread_id = o.thread_id;
  get diagnostics c = row_count; n := n + c;

  -- The notes crm-sync made, per account and contact: deleted in HubSpot by the worker.
  insert into hubspot_erasures (tenant, request_id, account, contact_id, note_ids, lookup_keys, lookup_after, status)
  select p_tenant, p_request_id, account, contact_id,
         coalesce(array_agg(note_id order by note_id) filter (where note_id is not null), '{}'),
         coalesce(array_agg('lc-thread-' || left(encode(sha256(convert_to(
                    tenant || E'\x1f' || chat_id || E'\x1f' || thread_id, 'UTF8')), 'hex'), 32)
                    order by chat_id, thread_id)
                  filter (where note_id is null and create_started_at is not null and contact_id is not null), '{}'),
         max(create_started_at) filter (where note_id is null and contact_id is not null),
         'pending'
  from notes
  where tenant = p_tenant and chat_id = any(p_chat_ids)
  group by account, contact_id
  having count(*) filter (where note_id is not null or create_started_at is not null) > 0;

  -- The contacts the notes were made for, whatever e-mail they were keyed by (an e-mail changed since, an older
  -- key): their contacts rows go too.
  select coalesce(array_agg(distinct contact_id) filter (where contact_id is not null), '{}') into v_contact_ids
  from notes where tenant = p_tenant and chat_id = any(p_chat_ids);

  delete from notes where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;

  -- The customers of these chats that no other chat of the tenant uses any more: their e-mails' contact ids go
  -- (in the tenant's accounts: those of its notes and its connection), then the rows.
  select coalesce(array_agg(u.customer_id), '{}'),
         coalesce(array_agg(email_key(u.email)) filter (where u.email is not null), '{}')
  into v_customers, v_email_keys
  from customers u
  where u.tenant = p_tenant
    and u.customer_id in (select customer_id from chats where tenant = p_tenant and chat_id = any(p_chat_ids)
                                                              and customer_id is not null)
    and not exists (select 1 from chats o where o.tenant = p_tenant and o.customer_id = u.customer_id
                                            and not (o.chat_id = any(p_chat_ids)));

  -- A contact known for the e-mail without a note of these chats is listed too (for the tenant to erase).
  insert into hubspot_erasures (tenant, request_id, account, contact_id, status)
  select p_tenant, p_request_id, k.account, k.contact_id, 'contact_manual'
  from contacts k
  where k.email_key = any(v_email_keys) and k.account = any(v_accounts)
    and not exists (select 1 from hubspot_erasures h where h.tenant = p_tenant and h.contact_id = k.contact_id
                                                         and h.account = k.account
                                                         and h.request_id is not distinct from p_request_id)
  order by k.account, k.contact_id;

  delete from contacts
  where account = any(v_accounts) and (email_key = any(v_email_keys) or contact_id = any(v_contact_ids));
  get diagnostics c = row_count; n := n + c;

  delete from customers where tenant = p_tenant and customer_id = any(v_customers);
  get diagnostics c = row_count; n := n + c;

  delete from entries where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;
  delete from participants where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;
  delete from thread_tags where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;
  delete from threads where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;
  delete from chats where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;
  delete from dead_letters where tenant = p_tenant and chat_id = any(p_chat_ids);
  get diagnostics c = row_count; n := n + c;

  return n;
end;
$$;

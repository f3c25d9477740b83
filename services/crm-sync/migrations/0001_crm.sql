-- Up Migration
-- The projection crm-sync needs per thread (merge rules as in services/transcripts: commutative, so the order
-- in which LiveChat delivered does not matter), the outbox of threads to sync, and what HubSpot holds.

create table chats (
  tenant text not null,
  chat_id text not null,
  customer_id text,
  primary key (tenant, chat_id)
);
create index chats_customer on chats (tenant, customer_id);

create table customers (
  tenant text not null,
  customer_id text not null,
  name text,
  email text,
  session_fields jsonb,
  updated_us bigint not null,
  primary key (tenant, customer_id)
);

create table participants (
  tenant text not null,
  chat_id text not null,
  user_id text not null,
  kind text not null,
  name text,
  primary key (tenant, chat_id, user_id)
);

create table threads (
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  started_us bigint,
  closed_us bigint,
  tags_snapshot text[],
  tags_snapshot_us bigint,
  rating_score int,
  rating_comment text,
  rating_us bigint,
  primary key (tenant, chat_id, thread_id)
);

create table thread_tags (
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  tag text not null,
  tagged boolean not null,
  untagged boolean not null,
  primary key (tenant, chat_id, thread_id, tag)
);

create table entries (
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  entry_id text not null,
  kind text,
  author_kind text,
  author_id text,
  author_name text,
  visibility text,
  text text,
  file_name text,
  file_url text,
  created_us bigint,
  transcript_position int,
  edited_us bigint,
  deleted_us bigint,
  primary key (tenant, chat_id, thread_id, entry_id)
);

-- One row per thread to sync. The consumer bumps `version` in the transaction of its offsets whenever a closed
-- thread with a customer e-mail changes; the worker syncs what the projection holds then and marks the version
-- it synced (compare-and-set), so a change during a sync makes another one.
create table outbox (
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  version bigint not null default 1,
  synced_version bigint not null default 0,
  status text not null default 'pending' check (status in ('pending', 'done', 'dead')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  last_error_code text,
  first_closed_us bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant, chat_id, thread_id)
);
create index outbox_due on outbox (next_attempt_at) where status = 'pending';

-- What HubSpot holds for a thread. `create_started_at` is written (and committed) before a note is created:
-- when it is set without a `note_id`, a create may have happened without us knowing, and the note is looked up
-- by its sync key among the contact's notes before it is created again.
create table notes (
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  account text not null,
  contact_id text,
  note_id text,
  body_sha256 text,
  create_started_at timestamptz,
  synced_at timestamptz,
  primary key (tenant, chat_id, thread_id)
);

-- Contact ids by account (a hash of the token, never the token) and lower-cased e-mail.
create table contacts (
  account text not null,
  email_key text not null,
  contact_id text not null,
  updated_at timestamptz not null default now(),
  primary key (account, email_key)
);

-- Threads HubSpot refused for good (a 400 for their input): the error as HubSpot gave it.
create table dead_letters (
  id bigserial primary key,
  tenant text not null,
  chat_id text not null,
  thread_id text not null,
  code text not null,
  http_status int,
  message text not null,
  hubspot_error jsonb,
  failed_at timestamptz not null default now(),
  replayed_at timestamptz
);
create index dead_letters_thread on dead_letters (tenant, chat_id, thread_id);

-- The CRM connection of each tenant as the worker last saw it: `broken` after a 401/403 (work kept), `paused`
-- while HubSpot's daily limit is reached. The app's settings page reads it.
create table connections (
  tenant text primary key,
  account text not null,
  status text not null check (status in ('ok', 'broken', 'paused')),
  code text,
  since timestamptz not null default now(),
  paused_until timestamptz
);

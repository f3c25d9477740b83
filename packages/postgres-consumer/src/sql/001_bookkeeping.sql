-- Up Migration
-- The runtime's bookkeeping, in the consumer's schema (search_path is set to it by the migrator).
create table if not exists _offsets (
  consumer    text        not null,
  topic       text        not null,
  partition   integer     not null,
  next_offset bigint      not null,
  updated_at  timestamptz not null default now(),
  primary key (consumer, topic, partition)
);

create table if not exists _dedup (
  consumer text        not null,
  event_id text        not null,
  seen_at  timestamptz not null default now(),
  primary key (consumer, event_id)
);
create index if not exists _dedup_seen_at on _dedup (consumer, seen_at);

-- Present while a rebuild runs: a restarted rebuild resumes instead of truncating again.
create table if not exists _rebuild (
  consumer   text        primary key,
  started_at timestamptz not null default now()
);

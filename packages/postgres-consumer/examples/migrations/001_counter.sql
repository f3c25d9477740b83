-- Up Migration
create table counts (
  event_id text    primary key,
  key      text    not null,
  -- How many times this event was applied: exactly-once processing keeps it at 1.
  applied  integer not null
);

create table totals (
  key text   primary key,
  n   bigint not null
);

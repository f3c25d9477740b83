-- Up Migration
-- v2 times are whole seconds: LiveChat's transcript index orders messages written within one second.
alter table entries add column transcript_position int;

-- The view gains `position`, the entry's place in its chat (columns can only be added at the end).
create or replace view chat_transcript as
  select e.tenant,
         e.chat_id,
         e.thread_id,
         e.entry_id as event_id,
         -- the webhook's author kind is a guess from the id's shape; the chat's user list knows better
         case coalesce(nullif(e.author_kind, 'unknown'), p.kind)
              when 'customer' then 'customer'
              when 'agent' then 'agent'
              when 'bot' then 'agent'
              else 'system' end as author_type,
         e.author_id,
         coalesce(e.author_name, p.name, c.name) as author_name,
         coalesce(e.visibility, 'all') as visibility,
         e.kind,
         e.text,
         us_to_ts(e.created_us) as created_at,
         us_to_ts(e.edited_us) as edited_at,
         us_to_ts(e.deleted_us) as deleted_at,
         e.created_us,
         -- the entry's place in its chat: by LiveChat's time, then (v2, whole seconds) its transcript index
         row_number() over (partition by e.tenant, e.chat_id
                            order by e.created_us nulls last, e.transcript_position nulls last, e.entry_id) as position
  from entries e
  left join participants p on p.tenant = e.tenant and p.chat_id = e.chat_id and p.user_id = e.author_id
  left join customers c on c.tenant = e.tenant and c.customer_id = e.author_id
  -- an edit or deletion whose message never arrived has no kind: not an entry yet
  where e.kind is not null;

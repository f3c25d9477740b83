-- Up Migration
-- Archives (threads read from the Agent Chat API) carry a thread's tags as of their read, not its tag changes. A tag
-- change received before the newest read is superseded by it; one received after applies on top of it. Tag facts
-- stored before this migration have no receipt time: any archive read supersedes them.
alter table thread_tags add column tagged_us bigint, add column untagged_us bigint;
alter table threads add column archive_tags text[], add column archive_tags_us bigint;

-- Effective tags of a thread. Without an archive read: (newest v2 list ∪ tagged) − untagged, as before. With one, per
-- tag the latest fact wins: the read (its list, at archive_tags_us) unless a tag change was received after it, then
-- the later of the tag and the untag (an untag at the same microsecond wins). Every read is a fact of its own
-- (packages/livechat: the tags_snapshot id hashes the read time), the newest kept (threads.archive_tags_us).
-- Times: archive_tags_us is the app's clock at the read, tagged_us/untagged_us the ingest's at the receipt: a
-- tag change received within the clocks' skew of a read may be ordered wrongly, and is put right by the next read.
create or replace view thread_effective_tags as
  select t.tenant, t.chat_id, t.thread_id, s.tag
  from threads t, unnest(coalesce(t.tags_snapshot, '{}')) as s(tag)
  where t.archive_tags_us is null
    and not exists (select 1 from thread_tags u where u.tenant = t.tenant and u.chat_id = t.chat_id
                    and u.thread_id = t.thread_id and u.tag = s.tag and u.untagged)
  union
  select g.tenant, g.chat_id, g.thread_id, g.tag from thread_tags g
  join threads t on t.tenant = g.tenant and t.chat_id = g.chat_id and t.thread_id = g.thread_id
  where t.archive_tags_us is null and g.tagged and not g.untagged
  union
  select t.tenant, t.chat_id, t.thread_id, a.tag
  from threads t, unnest(t.archive_tags) as a(tag)
  where t.archive_tags_us is not null
    and not exists (select 1 from thread_tags u where u.tenant = t.tenant and u.chat_id = t.chat_id
                    and u.thread_id = t.thread_id and u.tag = a.tag and u.untagged and u.untagged_us > t.archive_tags_us
                    and not (u.tagged and coalesce(u.tagged_us, -1) > u.untagged_us))
  union
  select g.tenant, g.chat_id, g.thread_id, g.tag from thread_tags g
  join threads t on t.tenant = g.tenant and t.chat_id = g.chat_id and t.thread_id = g.thread_id
  where t.archive_tags_us is not null and g.tagged and g.tagged_us > t.archive_tags_us
    and not (g.untagged and coalesce(g.untagged_us, -1) >= g.tagged_us);

-- Up Migration
-- Archives (threads read from the Agent Chat API) carry a thread's tags as of their read, not its tag changes: the
-- newest read's list supersedes the tag changes received before it, those received after apply on top of it (the
-- note's tags, sync/store.ts). Tag facts stored before this migration have no receipt time: an archive read
-- supersedes them.
alter table thread_tags add column tagged_us bigint, add column untagged_us bigint;
alter table threads add column archive_tags text[], add column archive_tags_us bigint;

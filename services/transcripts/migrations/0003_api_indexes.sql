-- Up Migration
-- Indexes for services/api (see its README "Indexes"): the chat list pages newest first by the first thread's
-- start (keyset pagination), a customer's chats the same way, and `q` searches message words.
create index chats_api_list on chats (tenant, (coalesce(first_thread_started_us, -1)), chat_id);
create index entries_api_words on entries using gin (to_tsvector('simple', coalesce(text, '')));
create index chats_api_customer on chats (tenant, customer_id, (coalesce(first_thread_started_us, -1)), chat_id);

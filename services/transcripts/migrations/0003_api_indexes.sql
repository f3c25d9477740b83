-- Up Migration
-- Indexes for services/api (see its README "Indexes"): the chat list pages newest first by the first thread's
-- start (keyset pagination), a customer's chats the same way, and `q` searches message words.
-- The migration runs in a transaction, so these builds lock the tables against the consumer's writes while they
-- run: on a large existing projection create them first with CREATE INDEX CONCURRENTLY (same names, see
-- services/api/README.md "Indexes"); `if not exists` then makes this migration a no-op.
create index if not exists chats_api_list on chats (tenant, (coalesce(first_thread_started_us, -1)), chat_id);
create index if not exists entries_api_words on entries using gin (to_tsvector('simple', coalesce(text, '')));
create index if not exists chats_api_customer on chats (tenant, customer_id, (coalesce(first_thread_started_us, -1)), chat_id);

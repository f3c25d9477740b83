-- Up Migration
-- A claim names its holder: every write of a claimed row checks the token (and, before a note create, that the
-- lease still holds), so a worker whose lease ran out can never write over, or duplicate, the work of the worker
-- that claimed the row after it. `no_token`: a tenant without a HubSpot token; its rows are parked (never
-- claimed) until a token is there.
alter table outbox add column claim_token uuid;
alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check check (status in ('pending', 'done', 'dead', 'no_token'));
create index outbox_parked on outbox (tenant) where status = 'no_token';

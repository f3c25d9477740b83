-- Up Migration
-- A time zone Postgres does not know (Node's ICU accepts some, e.g. US/Pacific-New, that Postgres' tz data lacks)
-- would make every aggregate view fail for every tenant: refuse it when it is written. Evaluating the check raises
-- "time zone ... not recognized" (22023), so a bad row already there fails this migration, and start-up with it.
alter table tenant_settings
  add constraint tenant_settings_time_zone_known check ((timestamptz 'epoch' at time zone time_zone) is not null);

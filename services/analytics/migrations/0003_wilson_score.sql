-- Up Migration
-- LiveChat's ranking formula (../shared/reference/livechat-apis.md §C.4, reproduces the docs' samples 0.423267 for
-- 13 good / 6 bad and 0.114734 for 36 / 174): the Wilson score lower bound at z = 2.69, with z²/(4n²) under the
-- square root (0001 had z²/(4n)).
create or replace function wilson_score(good bigint, bad bigint) returns double precision
  language sql immutable parallel safe
  return case when coalesce(good, 0) + coalesce(bad, 0) = 0 then null else
    (good::double precision / (good + bad) + 2.69 ^ 2 / (2 * (good + bad))
     - 2.69 * sqrt((good::double precision / (good + bad) * (1 - good::double precision / (good + bad))
                    + 2.69 ^ 2 / (4 * (good + bad)::double precision ^ 2)) / (good + bad)))
    / (1 + 2.69 ^ 2 / (good + bad)) end;

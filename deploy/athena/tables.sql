-- trailproof's Hive-partitioned dataset (`trailproof merge ... --dataset s3://EVIDENCE-BUCKET/dataset`)
-- as Athena tables: one per kind, partitioned by run (the window, `run=START_END`) and account
-- (`account_id=A`), with partition projection (no crawler, no MSCK REPAIR). Both keys are
-- injected: a query names the run and the account(s) it reads, e.g.
--   SELECT region, sum(mgmt_read) FROM trailproof_coverage
--   WHERE run = '20260101T000000Z_20260102T000000Z' AND account_id IN ('111122223333', '444455556666')
--   GROUP BY region;
-- Columns are the Parquet tables' own, minus account_id, which is the
-- partition; trailproof's deploy test keeps them equal to the Parquet schemas. Replace
-- EVIDENCE-BUCKET. Unsigned counters are read as bigint.

CREATE EXTERNAL TABLE IF NOT EXISTS trailproof_coverage (
  `region` string,
  `hour` timestamp,
  `mgmt_read` bigint,
  `mgmt_write` bigint,
  `mgmt_unknown` bigint,
  `global_read` bigint,
  `global_write` bigint,
  `data_events` bigint,
  `other_events` bigint,
  `log_files` bigint,
  `bytes` bigint,
  `first_event` timestamp,
  `last_event` timestamp,
  `max_delivery_lag_s` bigint,
  `late_events` bigint,
  `mismatched_events` bigint,
  `unreadable_files` bigint,
  `digest_attested` boolean
)
PARTITIONED BY (`run` string, `account_id` string)
STORED AS PARQUET
LOCATION 's3://EVIDENCE-BUCKET/dataset/coverage/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.run.type' = 'injected',
  'projection.account_id.type' = 'injected',
  'storage.location.template' = 's3://EVIDENCE-BUCKET/dataset/coverage/run=${run}/account_id=${account_id}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS trailproof_gaps (
  `region` string,
  `category` string,
  `kind` string,
  `start` timestamp,
  `end` timestamp,
  `detail` string
)
PARTITIONED BY (`run` string, `account_id` string)
STORED AS PARQUET
LOCATION 's3://EVIDENCE-BUCKET/dataset/gaps/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.run.type' = 'injected',
  'projection.account_id.type' = 'injected',
  'storage.location.template' = 's3://EVIDENCE-BUCKET/dataset/gaps/run=${run}/account_id=${account_id}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS trailproof_files (
  `key` string,
  `region` string,
  `delivered_at` timestamp,
  `size` bigint,
  `sha256` string,
  `events` bigint,
  `status` string,
  `error` string,
  `digest_status` string,
  `digest_key` string,
  `etag` string,
  `stored_sha256` string
)
PARTITIONED BY (`run` string, `account_id` string)
STORED AS PARQUET
LOCATION 's3://EVIDENCE-BUCKET/dataset/files/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.run.type' = 'injected',
  'projection.account_id.type' = 'injected',
  'storage.location.template' = 's3://EVIDENCE-BUCKET/dataset/files/run=${run}/account_id=${account_id}/'
);

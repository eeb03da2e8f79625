//! Gathers the [`Facts`] (`docs/decision-procedure.md` §4 steps 0–3): identity, region scope, `DescribeTrails` in every
//! region in parallel, then `GetTrailStatus` and `GetEventSelectors` per trail in its home
//! region with the full ARN. Every failure is kept as data, isolated to its region or trail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::CheckOptions;
use super::model::{
    AdvancedSelector, ClassicSelector, Facts, FieldSelector, Identity, ReadWriteType,
    RegionCatalog, Selectors, Trail, TrailFacts, TrailStatus, parse_arn,
};
use crate::aws::{ApiFailure, CheckClients, FailureKind};
use crate::regions::{self, partition_of_region};
use crate::time::now_secs;

/// Gathers every fact the decision procedure needs.
pub async fn collect(clients: &CheckClients, opts: &CheckOptions) -> Facts {
    let observed_at = now_secs();
    let (identity, scope) = scope(clients, opts).await;
    let mut facts = Facts {
        observed_at,
        identity,
        regions: scope,
        catalog: BTreeMap::new(),
        trails: BTreeMap::new(),
    };
    if facts.identity.is_err() {
        return facts;
    }

    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    // Step 2: the catalog, every region in parallel.
    let mut tasks = JoinSet::new();
    for region in facts.regions.names() {
        let (client, region, limit) =
            (clients.cloudtrail(region), region.to_owned(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = describe_trails(&client, &region).await;
            (region, result)
        });
    }
    let mut records: BTreeMap<String, Trail> = BTreeMap::new();
    let mut visible_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (region, result) = joined.expect("describe task panicked");
        match result {
            Ok(trails) => {
                let arns: BTreeSet<String> = trails.iter().map(|t| t.arn.clone()).collect();
                for t in trails {
                    visible_in
                        .entry(t.arn.clone())
                        .or_default()
                        .push(region.clone());
                    records.entry(t.arn.clone()).or_insert(t);
                }
                facts
                    .catalog
                    .insert(region, RegionCatalog::Visible { arns });
            }
            Err(failure) => {
                tracing::warn!(region = %region, error = %failure.summary(), "DescribeTrails failed; region unreachable.");
                facts
                    .catalog
                    .insert(region, RegionCatalog::Unreachable { failure });
            }
        }
    }

    // Step 3: per-trail facts, each trail in parallel, failures isolated.
    let mut tasks = JoinSet::new();
    for (arn, trail) in records {
        let clients = clients.clone();
        let limit = limit.clone();
        let fallbacks = visible_in.remove(&arn).unwrap_or_default();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let home = clients.cloudtrail(&trail.home_region);
            let status = match trail_status(&home, &trail.arn, &trail.home_region).await {
                Ok(s) => Ok(s),
                Err(first) => {
                    // Shadow status by ARN is documented: try the regions it was seen in.
                    let mut result = Err(first);
                    for r in fallbacks.iter().filter(|r| **r != trail.home_region) {
                        if let Ok(s) = trail_status(&clients.cloudtrail(r), &trail.arn, r).await {
                            result = Ok(s);
                            break;
                        }
                    }
                    result
                }
            };
            let selectors = event_selectors(&home, &trail.arn, &trail.home_region).await;
            TrailFacts {
                trail,
                status,
                selectors,
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let tf = joined.expect("trail task panicked");
        if let Err(f) = &tf.status {
            tracing::warn!(trail = %tf.trail.arn, error = %f.summary(), "GetTrailStatus failed.");
        }
        if let Err(f) = &tf.selectors {
            tracing::warn!(trail = %tf.trail.arn, error = %f.summary(), "GetEventSelectors failed.");
        }
        facts.trails.insert(tf.trail.arn.clone(), tf);
    }
    facts
}

/// Steps 0-1 alone: who the caller is and which regions are in scope (`--regions`, else the
/// account's enabled regions, else the partition's defaults with the failure kept). The
/// shards of `verify --shard K/N` but shard 0 take their scope from here, as shard 0's check
/// does, without the rest of the check.
pub async fn scope(
    clients: &CheckClients,
    opts: &CheckOptions,
) -> (Result<Identity, ApiFailure>, regions::RegionScope) {
    let identity = identity(clients).await;
    let partition = identity
        .as_ref()
        .map(|i| i.partition.clone())
        .unwrap_or_else(|_| "aws".into());
    let scope = match (&identity, &opts.regions) {
        (_, Some(list)) => regions::from_flag(list, &opts.exclude_regions),
        (Err(f), None) => regions::builtin(&partition, &opts.exclude_regions, f.clone()),
        (Ok(_), None) => {
            regions::discover(&clients.account, &partition, &opts.exclude_regions).await
        }
    };
    (identity, scope)
}

async fn identity(clients: &CheckClients) -> Result<Identity, ApiFailure> {
    let out = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| ApiFailure::from_sdk("sts:GetCallerIdentity", None, &e))?;
    let arn = out.arn().unwrap_or_default().to_owned();
    let account_id = out.account().unwrap_or_default().to_owned();
    let partition = parse_arn(&arn)
        .map(|(p, _, _)| p.to_owned())
        .unwrap_or_else(|| "aws".into());
    if account_id.is_empty() {
        return Err(ApiFailure::new(
            "sts:GetCallerIdentity",
            None,
            FailureKind::Service,
            "response has no account id",
        ));
    }
    Ok(Identity {
        account_id,
        arn,
        partition,
    })
}

async fn describe_trails(
    client: &aws_sdk_cloudtrail::Client,
    region: &str,
) -> Result<Vec<Trail>, ApiFailure> {
    let out = client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|e| ApiFailure::from_sdk("cloudtrail:DescribeTrails", Some(region), &e))?;
    Ok(out
        .trail_list()
        .iter()
        .filter_map(|t| {
            let arn = t.trail_arn()?.to_owned();
            let (_, arn_region, account) = parse_arn(&arn)?;
            let home_region = t.home_region().unwrap_or(arn_region).to_owned();
            let owner_account = account.to_owned();
            debug_assert_eq!(
                partition_of_region(&home_region),
                partition_of_region(region)
            );
            Some(Trail {
                name: t.name().unwrap_or_default().to_owned(),
                home_region,
                owner_account,
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                organization: t.is_organization_trail().unwrap_or(false),
                include_global_service_events: t.include_global_service_events().unwrap_or(false),
                s3_bucket: t.s3_bucket_name().map(str::to_owned),
                s3_key_prefix: t.s3_key_prefix().map(str::to_owned),
                log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
                arn,
            })
        })
        .collect())
}

async fn trail_status(
    client: &aws_sdk_cloudtrail::Client,
    arn: &str,
    region: &str,
) -> Result<TrailStatus, ApiFailure> {
    let out = client
        .get_trail_status()
        .name(arn)
        .send()
        .await
        .map_err(|e| ApiFailure::from_sdk("cloudtrail:GetTrailStatus", Some(region), &e).on(arn))?;
    let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(TrailStatus {
        is_logging: out.is_logging().unwrap_or(false),
        latest_delivery_time: out.latest_delivery_time().map(|t| t.secs()),
        latest_delivery_error: non_empty(out.latest_delivery_error()),
        latest_digest_delivery_error: non_empty(out.latest_digest_delivery_error()),
        read_from_region: region.to_owned(),
    })
}

async fn event_selectors(
    client: &aws_sdk_cloudtrail::Client,
    arn: &str,
    region: &str,
) -> Result<Selectors, ApiFailure> {
    let out = client
        .get_event_selectors()
        .trail_name(arn)
        .send()
        .await
        .map_err(|e| {
            ApiFailure::from_sdk("cloudtrail:GetEventSelectors", Some(region), &e).on(arn)
        })?;
    Ok(convert_selectors(
        out.event_selectors(),
        out.advanced_event_selectors(),
    ))
}

/// Converts SDK selectors to ours. A response carries one kind; when both lists are present
/// (some emulators send an empty list of the other kind), the non-empty one wins.
pub fn convert_selectors(
    classic: &[aws_sdk_cloudtrail::types::EventSelector],
    advanced: &[aws_sdk_cloudtrail::types::AdvancedEventSelector],
) -> Selectors {
    if !advanced.is_empty() && classic.is_empty() {
        return Selectors::Advanced(
            advanced
                .iter()
                .map(|a| AdvancedSelector {
                    name: a.name().map(str::to_owned),
                    field_selectors: a
                        .field_selectors()
                        .iter()
                        .map(|f| FieldSelector {
                            field: f.field().to_owned(),
                            equals: f.equals().to_vec(),
                            starts_with: f.starts_with().to_vec(),
                            ends_with: f.ends_with().to_vec(),
                            not_equals: f.not_equals().to_vec(),
                            not_starts_with: f.not_starts_with().to_vec(),
                            not_ends_with: f.not_ends_with().to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        );
    }
    Selectors::Classic(
        classic
            .iter()
            .map(|s| ClassicSelector {
                read_write_type: s.read_write_type().map(|t| match t.as_str() {
                    "All" => ReadWriteType::All,
                    "ReadOnly" => ReadWriteType::ReadOnly,
                    "WriteOnly" => ReadWriteType::WriteOnly,
                    other => ReadWriteType::Other(other.to_owned()),
                }),
                include_management_events: s.include_management_events(),
                exclude_management_event_sources: s.exclude_management_event_sources.clone(),
                data_resources: s.data_resources().len(),
            })
            .collect(),
    )
}

//! What things cost: on-demand $/hour of machine types (EC2 and SageMaker
//! training), EBS gp3 $/GB-month, current spot prices; read from AWS's
//! Price List API (its endpoint is in us-east-1 whatever the region) and
//! kept in the history database with the time they were read (asked again
//! at most daily). A price that cannot be read is "unknown" and never
//! blocks a launch.

mod cost;
mod parse;

pub use cost::{
    hourly_total, machine_hours, run_cost, safety_stop, RunCost, SafetyStop, HOURS_PER_MONTH,
    MIN_SAFETY_HOURS, S3_GB_MONTH,
};
pub use parse::{on_demand, Priced};

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_pricing::types::{Filter, FilterType};
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::aws::AwsContext;
use crate::pipeline::PipelineError;

/// Prices older than this are asked again.
const FRESH_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Ec2,
    SageMaker,
}

impl Service {
    fn code(self) -> &'static str {
        match self {
            Service::Ec2 => "AmazonEC2",
            Service::SageMaker => "AmazonSageMaker",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::SageMaker => "sagemaker",
        }
    }
}

/// One spot price in one zone.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SpotPrice {
    pub zone: String,
    pub usd_per_hour: f64,
}

/// What a launch would cost: "about $X per hour; at most $Y if it runs
/// until the safety stop (Z h)".
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Machine and disk, `None`: price unknown.
    pub usd_per_hour: Option<f64>,
    pub safety_stop_hours: f64,
    pub at_most_usd: Option<f64>,
    /// A budget cap was given but the price is unknown: it cannot apply.
    pub budget_ignored: bool,
}

/// Price tables per (service, region), cached in a SQLite file.
pub struct Prices {
    db: Mutex<Connection>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn term(field: &str, value: &str) -> Result<Filter, PipelineError> {
    Filter::builder()
        .r#type(FilterType::TermMatch)
        .field(field)
        .value(value)
        .build()
        .map_err(|e| PipelineError::State(format!("price filter {field}: {e}")))
}

impl Prices {
    pub fn open(path: &std::path::Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS prices (
                service TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
                usd REAL NOT NULL, unit TEXT NOT NULL, read_at INTEGER NOT NULL,
                PRIMARY KEY (service, region, name));
             CREATE TABLE IF NOT EXISTS price_reads (
                service TEXT NOT NULL, region TEXT NOT NULL, read_at INTEGER NOT NULL,
                PRIMARY KEY (service, region));",
        )?;
        Ok(Self {
            db: Mutex::new(conn),
        })
    }

    pub fn in_memory() -> Result<Self, rusqlite::Error> {
        Self::open(std::path::Path::new(":memory:"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the region's table was last read, if ever.
    pub fn read_at(&self, service: Service, region: &str) -> Option<i64> {
        self.lock()
            .query_row(
                "SELECT read_at FROM price_reads WHERE service = ?1 AND region = ?2",
                params![service.key(), region],
                |r| r.get(0),
            )
            .ok()
    }

    /// Every known price of the region ($ per unit, by product name);
    /// asks AWS when the table is missing or older than a day. On failure
    /// the old table (or nothing) is returned and the failure logged.
    pub async fn table(&self, ctx: &AwsContext, service: Service) -> HashMap<String, Priced> {
        let region = ctx.region();
        let stale = self
            .read_at(service, region)
            .is_none_or(|t| now() - t > FRESH_SECS);
        if stale {
            match fetch(ctx, service).await {
                Ok(found) => self.store(service, region, &found),
                Err(e) => {
                    tracing::warn!(region, error = %e, "prices could not be read; shown as unknown")
                }
            }
        }
        self.cached(service, region)
    }

    fn store(&self, service: Service, region: &str, found: &[Priced]) {
        let conn = self.lock();
        let write = || -> rusqlite::Result<()> {
            let tx = conn.unchecked_transaction()?;
            let t = now();
            for p in found {
                tx.execute(
                    "INSERT OR REPLACE INTO prices VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![service.key(), region, p.name, p.usd, p.unit, t],
                )?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO price_reads VALUES (?1, ?2, ?3)",
                params![service.key(), region, t],
            )?;
            tx.commit()
        };
        if let Err(e) = write() {
            tracing::error!(region, error = %e, "could not keep the prices");
        }
    }

    fn cached(&self, service: Service, region: &str) -> HashMap<String, Priced> {
        let conn = self.lock();
        let read = || -> rusqlite::Result<HashMap<String, Priced>> {
            let mut stmt = conn
                .prepare("SELECT name, usd, unit FROM prices WHERE service = ?1 AND region = ?2")?;
            let rows = stmt.query_map(params![service.key(), region], |r| {
                Ok(Priced {
                    name: r.get(0)?,
                    usd: r.get(1)?,
                    unit: r.get(2)?,
                })
            })?;
            rows.map(|r| r.map(|p| (p.name.clone(), p))).collect()
        };
        read().unwrap_or_else(|e| {
            tracing::error!(region, error = %e, "could not read the kept prices");
            HashMap::new()
        })
    }

    /// On-demand $/hour of one machine type, `None`: unknown.
    pub async fn hourly(&self, ctx: &AwsContext, service: Service, name: &str) -> Option<f64> {
        self.table(ctx, service)
            .await
            .get(name)
            .filter(|p| p.unit.eq_ignore_ascii_case("hrs"))
            .map(|p| p.usd)
    }

    /// $/hour of a machine with its gp3 disk, `None`: unknown.
    pub async fn machine_rate(
        &self,
        ctx: &AwsContext,
        instance_type: &str,
        disk_gb: u32,
    ) -> Option<f64> {
        let machine = self.hourly(ctx, Service::Ec2, instance_type).await?;
        Some(hourly_total(machine, disk_gb, self.gp3_gb_month(ctx).await))
    }

    /// $/hour of a spot machine in `zone` with its gp3 disk, `None`: unknown.
    pub async fn spot_rate(
        &self,
        ctx: &AwsContext,
        instance_type: &str,
        zone: &str,
        disk_gb: u32,
    ) -> Option<f64> {
        let found = spot_prices(ctx, instance_type).await.ok()?;
        let machine = found.iter().find(|p| p.zone == zone)?.usd_per_hour;
        Some(hourly_total(machine, disk_gb, self.gp3_gb_month(ctx).await))
    }

    /// What a launch would cost, for the wizard's review.
    pub async fn quote(
        &self,
        ctx: &AwsContext,
        instance_type: &str,
        disk_gb: u32,
        max_hours: f64,
        budget_usd: Option<f64>,
    ) -> Result<Quote, PipelineError> {
        let usd_per_hour = self.machine_rate(ctx, instance_type, disk_gb).await;
        let stop = safety_stop(max_hours, budget_usd, usd_per_hour)?;
        Ok(Quote {
            usd_per_hour,
            safety_stop_hours: stop.hours,
            at_most_usd: usd_per_hour.map(|r| r * stop.hours),
            budget_ignored: stop.budget_ignored,
        })
    }

    /// What a SageMaker job on `machines` machines of `training_type` would
    /// cost: each machine is billed by the second, there is no disk to add.
    pub async fn training_quote(
        &self,
        ctx: &AwsContext,
        training_type: &str,
        machines: u32,
        max_hours: f64,
        budget_usd: Option<f64>,
    ) -> Result<Quote, PipelineError> {
        let one = self.hourly(ctx, Service::SageMaker, training_type).await;
        let usd_per_hour = one.map(|r| r * f64::from(machines.max(1)));
        let stop = safety_stop(max_hours, budget_usd, usd_per_hour)?;
        Ok(Quote {
            usd_per_hour,
            safety_stop_hours: stop.hours,
            at_most_usd: usd_per_hour.map(|r| r * stop.hours),
            budget_ignored: stop.budget_ignored,
        })
    }

    /// gp3 storage $/GB-month in the region, `None`: unknown.
    pub async fn gp3_gb_month(&self, ctx: &AwsContext) -> Option<f64> {
        self.table(ctx, Service::Ec2)
            .await
            .get("gp3")
            .map(|p| p.usd)
    }
}

/// Every on-demand price of the service in the context's region, from the
/// Price List API (pages of 100 records).
async fn fetch(ctx: &AwsContext, service: Service) -> Result<Vec<Priced>, PipelineError> {
    let region = ctx.region();
    let mut queries: Vec<Vec<Filter>> = Vec::new();
    match service {
        Service::Ec2 => {
            queries.push(vec![
                term("regionCode", region)?,
                term("operatingSystem", "Linux")?,
                term("tenancy", "Shared")?,
                term("preInstalledSw", "NA")?,
                term("capacitystatus", "Used")?,
            ]);
            queries.push(vec![
                term("regionCode", region)?,
                term("productFamily", "Storage")?,
                term("volumeApiName", "gp3")?,
            ]);
        }
        Service::SageMaker => queries.push(vec![
            term("regionCode", region)?,
            term("component", "Training")?,
        ]),
    }
    let client = ctx.pricing();
    let mut found = Vec::new();
    for filters in queries {
        let mut pages = client
            .get_products()
            .service_code(service.code())
            .set_filters(Some(filters))
            .format_version("aws_v1")
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::pipeline::aws_error("read the prices", e))?;
            found.extend(page.price_list().iter().filter_map(|r| on_demand(r)));
        }
    }
    Ok(found)
}

/// Current spot prices of a machine type, one per zone (cheapest first).
pub async fn spot_prices(
    ctx: &AwsContext,
    instance_type: &str,
) -> Result<Vec<SpotPrice>, PipelineError> {
    let out = ctx
        .ec2()
        .describe_spot_price_history()
        .instance_types(instance_type.into())
        .product_descriptions("Linux/UNIX")
        .start_time(aws_smithy_types::DateTime::from_secs(now()))
        .send()
        .await
        .map_err(|e| crate::pipeline::aws_error("read the spot prices", e))?;
    let mut by_zone: HashMap<String, f64> = HashMap::new();
    for row in out.spot_price_history() {
        let (Some(zone), Some(price)) = (row.availability_zone(), row.spot_price()) else {
            continue;
        };
        if let Ok(p) = price.parse::<f64>() {
            by_zone.entry(zone.to_string()).or_insert(p);
        }
    }
    let mut prices: Vec<SpotPrice> = by_zone
        .into_iter()
        .map(|(zone, usd_per_hour)| SpotPrice { zone, usd_per_hour })
        .collect();
    prices.sort_by(|a, b| a.usd_per_hour.total_cmp(&b.usd_per_hour));
    Ok(prices)
}

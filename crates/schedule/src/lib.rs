//! Scheduled refreshes, the pure part: what a `[[refresh]]` declares, when its slots fall, and
//! which slot to run after a pause. The cron loop (`runner cron`) and the database work live in
//! the runner; every replica computes the same slots, and the state table decides which replica
//! runs each.

#![warn(missing_docs)]

use chrono::{DateTime, Utc};
use runner_revisions::{is_plain_name, is_plain_table};
use std::str::FromStr;
use std::time::Duration;

/// A `[[refresh]]` that cannot be scheduled as written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// A cron expression that does not parse.
    #[error(
        "refresh `{name}`: invalid schedule `{schedule}`: {reason} (six fields with seconds: `sec min hour day month weekday`, e.g. `0 */5 * * * *`)"
    )]
    Schedule {
        /// The refresh's name.
        name: String,
        /// The expression as written.
        schedule: String,
        /// What the cron parser said.
        reason: String,
    },
    /// Anything else about it that is wrong (name, target, time zone).
    #[error("refresh `{name}`: {message}")]
    Invalid {
        /// The refresh's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Two refreshes with one name.
    #[error("refresh `{0}` is declared twice")]
    Duplicate(String),
}

/// What to refresh.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// `REFRESH MATERIALIZED VIEW [CONCURRENTLY]` (PostgreSQL).
    View {
        /// The materialized view.
        view: String,
        /// Refresh it `CONCURRENTLY` (readers are not blocked; it needs a unique index).
        concurrently: bool,
    },
    /// A table rebuilt from a query in one transaction (any database; SQLite has no materialized views).
    Table {
        /// The table emptied and refilled.
        table: String,
        /// The query that fills it.
        query: String,
    },
    /// A table rebuilt by a WASM plugin in one transaction: the manifest (role `refresh`) in
    /// `backfills/` names the plugin, the source and the target table.
    Plugin {
        /// The manifest's name.
        manifest: String,
    },
}

/// What to do about slots that passed while no runner was up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissedRuns {
    /// Wait for the next slot.
    Skip,
    /// Run the latest missed slot once, if it is within the grace window.
    RunOnce,
}

/// A `[[refresh]]` in `runner.toml`, as written.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshFile {
    /// The refresh's name (letters, digits, `_`).
    pub name: String,
    /// A six-field cron expression, seconds first.
    pub schedule: String,
    /// A materialized view to refresh.
    pub view: Option<String>,
    /// With `view`: refresh it concurrently.
    #[serde(default)]
    pub concurrently: bool,
    /// A table to rebuild from `query`.
    pub table: Option<String>,
    /// With `table`: the query that fills it.
    pub query: Option<String>,
    /// A manifest in `backfills/` with `role = "refresh"`.
    pub plugin: Option<String>,
    /// Runs only once this revision is applied.
    pub requires: Option<String>,
    /// What to do about slots missed while no runner was up (default `skip`).
    pub missed: Option<MissedRuns>,
    /// How late a slot may still run, and be claimed, in seconds (default 300).
    pub grace_secs: Option<u64>,
    /// Retries of a failed run within its slot (default 2).
    pub retries: Option<u32>,
    /// IANA time zone the schedule is read in (default UTC), e.g. `Europe/Paris`.
    pub timezone: Option<String>,
}

/// A validated refresh.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refresh {
    /// Its name.
    pub name: String,
    /// Its cron expression, as written.
    pub schedule: String,
    #[serde(skip)]
    cron: cron::Schedule,
    /// The zone the schedule is read in; slots are still compared and stored in UTC.
    #[serde(serialize_with = "zone_name")]
    pub timezone: chrono_tz::Tz,
    /// What it refreshes.
    pub target: Target,
    /// The revision it waits for.
    pub requires: Option<String>,
    /// What to do about slots missed while no runner was up.
    pub missed: MissedRuns,
    /// How late a slot may still run.
    pub grace: Duration,
    /// Retries of a failed run within its slot.
    pub retries: u32,
}

impl Refresh {
    /// Validates a `[[refresh]]` as written: name, schedule, time zone, one kind of target.
    pub fn from_file(f: RefreshFile) -> Result<Refresh, SpecError> {
        let invalid = |message: String| SpecError::Invalid { name: f.name.clone(), message };
        if !is_plain_name(&f.name) {
            return Err(invalid("names use letters, digits and `_`".into()));
        }
        let cron = cron::Schedule::from_str(&f.schedule).map_err(|e| SpecError::Schedule {
            name: f.name.clone(),
            schedule: f.schedule.clone(),
            reason: e.to_string(),
        })?;
        let timezone = match &f.timezone {
            None => chrono_tz::UTC,
            Some(z) => z
                .parse::<chrono_tz::Tz>()
                .map_err(|_| invalid(format!("unknown time zone `{z}` (use an IANA name such as `Europe/Paris`)")))?,
        };
        let target = match (&f.view, &f.table, &f.query) {
            (None, None, None) if f.plugin.is_some() => Target::Plugin { manifest: f.plugin.clone().expect("checked") },
            _ if f.plugin.is_some() => {
                return Err(invalid("`plugin` names the whole refresh; drop `view`, `table` and `query`".into()));
            }
            (Some(v), None, None) => {
                if !is_plain_table(v) {
                    return Err(invalid(format!("view `{v}` is not a plain identifier")));
                }
                Target::View { view: v.clone(), concurrently: f.concurrently }
            }
            (None, Some(t), Some(q)) => {
                if !is_plain_table(t) {
                    return Err(invalid(format!("table `{t}` is not a plain identifier")));
                }
                if f.concurrently {
                    return Err(invalid("`concurrently` applies to materialized views only".into()));
                }
                Target::Table { table: t.clone(), query: q.clone() }
            }
            _ => return Err(invalid("declare either `view`, or `table` and `query`, or `plugin`".into())),
        };
        Ok(Refresh {
            name: f.name,
            schedule: f.schedule,
            cron,
            timezone,
            target,
            requires: f.requires,
            missed: f.missed.unwrap_or(MissedRuns::Skip),
            grace: Duration::from_secs(f.grace_secs.unwrap_or(300)),
            retries: f.retries.unwrap_or(2),
        })
    }

    /// The first slot strictly after `t`.
    pub fn next_slot(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.after(&t.with_timezone(&self.timezone)).next().map(|s| s.with_timezone(&Utc))
    }

    /// The slot to catch up on at start-up, per the missed-run policy: the latest slot at or
    /// before `now`, if it is within the grace window (and the policy asks for it).
    pub fn missed_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.missed == MissedRuns::Skip {
            return None;
        }
        let grace = chrono::Duration::from_std(self.grace).ok()?;
        let from = (now - grace).with_timezone(&self.timezone);
        self.cron.after(&from).map(|s| s.with_timezone(&Utc)).take_while(|s| *s <= now).last()
    }
}

fn zone_name<S: serde::Serializer>(tz: &chrono_tz::Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Validates every refresh; names must be unique.
pub fn validate(files: Vec<RefreshFile>) -> Result<Vec<Refresh>, Vec<SpecError>> {
    let mut out: Vec<Refresh> = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match Refresh::from_file(f) {
            Ok(r) if out.iter().any(|o| o.name == r.name) => errors.push(SpecError::Duplicate(r.name)),
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A slot's name in the state table: `NAME@2026-11-21T10:00:05Z`.
pub fn slot_name(refresh: &str, slot: DateTime<Utc>) -> String {
    format!("{refresh}@{}", slot.format("%Y-%m-%dT%H:%M:%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(schedule: &str) -> RefreshFile {
        RefreshFile {
            name: "entity_counts".into(),
            schedule: schedule.into(),
            view: Some("entity_counts".into()),
            concurrently: true,
            table: None,
            query: None,
            plugin: None,
            requires: None,
            missed: None,
            grace_secs: None,
            retries: None,
            timezone: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_documented_example_is_valid_and_slots_follow_the_schedule() {
        let r = Refresh::from_file(file("*/5 * * * * *")).unwrap();
        assert_eq!(r.next_slot(at("2026-11-21T10:00:03Z")), Some(at("2026-11-21T10:00:05Z")));
        assert_eq!(r.next_slot(at("2026-11-21T10:00:05Z")), Some(at("2026-11-21T10:00:10Z")));
        assert_eq!(slot_name("x", at("2026-11-21T10:00:05Z")), "x@2026-11-21T10:00:05Z");
    }

    #[test]
    fn bad_schedules_name_the_refresh() {
        let e = Refresh::from_file(file("every minute")).unwrap_err().to_string();
        assert!(e.starts_with("refresh `entity_counts`: invalid schedule `every minute`"), "{e}");
        let mut f = file("* * * * * *");
        f.view = None;
        assert!(Refresh::from_file(f).unwrap_err().to_string().contains("declare either `view`"));
    }

    #[test]
    fn missed_slots_follow_the_policy() {
        let mut f = file("0 0 * * * *");
        let r = Refresh::from_file(f.clone()).unwrap();
        assert_eq!(r.missed_slot(at("2026-11-21T10:03:00Z")), None, "skip is the default");
        f.missed = Some(MissedRuns::RunOnce);
        let r = Refresh::from_file(f).unwrap();
        assert_eq!(r.missed_slot(at("2026-11-21T10:03:00Z")), Some(at("2026-11-21T10:00:00Z")));
        assert_eq!(r.missed_slot(at("2026-11-21T10:30:00Z")), None, "outside the 5-minute grace window");
    }

    #[test]
    fn schedules_are_read_in_their_time_zone() {
        let mut f = file("0 0 9 * * *");
        f.timezone = Some("Europe/Paris".into());
        let r = Refresh::from_file(f.clone()).unwrap();
        // 09:00 in Paris is 08:00 UTC in winter.
        assert_eq!(r.next_slot(at("2026-11-21T07:00:00Z")), Some(at("2026-11-21T08:00:00Z")));
        f.timezone = Some("Mars/Olympus".into());
        assert!(Refresh::from_file(f).unwrap_err().to_string().contains("unknown time zone `Mars/Olympus`"));
    }

    #[test]
    fn duplicates_are_errors() {
        let e = validate(vec![file("* * * * * *"), file("* * * * * *")]).unwrap_err();
        assert_eq!(e, vec![SpecError::Duplicate("entity_counts".into())]);
    }
}

//! A time series of one measurement: a histogram per wall-clock second, for workloads whose
//! events do not follow the engine's schedule (WebSocket deliveries, upload parts). The second
//! being recorded is a full histogram; once a later second starts it is deflated (a few KB),
//! so a long run does not grow by a histogram a second. Keys are Unix seconds, so the series
//! of cores, and of shards on other machines, line up when merged.
//!
//! `LevelSeries` is the same for a level (connections open): the most and the last of each
//! second; a second without a change holds the level of the one before.

use crate::engine::compact::Deflated;
use crate::engine::recorder::{histogram, MAX_TRACKABLE_US};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// The current Unix second (the key of the second being recorded).
pub fn unix_second_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Serialized as its deflated seconds by Unix second (`to_seconds`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "BTreeMap<u64, Deflated>", from = "BTreeMap<u64, Deflated>")]
pub struct SecondSeries {
    sealed: BTreeMap<u64, Deflated>,
    open: Option<(u64, Histogram<u64>)>,
}

impl SecondSeries {
    /// Records `value` (µs) in Unix second `second`.
    pub fn record(&mut self, second: u64, value: u64) {
        let value = value.clamp(1, MAX_TRACKABLE_US);
        if let Some((s, h)) = &mut self.open {
            if *s == second {
                h.saturating_record(value);
                return;
            }
        }
        self.seal();
        // A value for a second already sealed (events may finish out of order) reopens it.
        let mut h = histogram();
        if let Some(d) = self.sealed.remove(&second) {
            let _ = d.add_into(&mut h);
        }
        h.saturating_record(value);
        self.open = Some((second, h));
    }

    fn seal(&mut self) {
        if let Some((s, h)) = self.open.take() {
            self.sealed.insert(s, Deflated::of(&h));
        }
    }

    /// Every second's histogram, deflated, by Unix second.
    pub fn finish(mut self) -> BTreeMap<u64, Deflated> {
        self.seal();
        self.sealed
    }

    /// Every second's histogram, deflated, by Unix second, leaving the series as it is.
    pub fn to_seconds(&self) -> BTreeMap<u64, Deflated> {
        let mut all = self.sealed.clone();
        if let Some((s, h)) = &self.open {
            all.insert(*s, Deflated::of(h));
        }
        all
    }

    /// Rebuilds a series from its deflated seconds.
    pub fn from_seconds(sealed: BTreeMap<u64, Deflated>) -> Self {
        SecondSeries { sealed, open: None }
    }

    /// Adds `other` into `self`, second by second (exact).
    pub fn merge(&mut self, other: SecondSeries) {
        self.seal();
        for (second, d) in other.finish() {
            let merged = match self.sealed.remove(&second) {
                None => d,
                Some(mine) => {
                    let mut h = histogram();
                    let _ = mine.add_into(&mut h);
                    let _ = d.add_into(&mut h);
                    Deflated::of(&h)
                }
            };
            self.sealed.insert(second, merged);
        }
    }

    /// Each second that has values, in order, its histogram decoded one at a time. Seconds
    /// without any are left out (not filled in: a stray timestamp must not make a range of
    /// millions of empty seconds).
    pub fn seconds(&self) -> impl Iterator<Item = (u64, Histogram<u64>)> + '_ {
        let mut keys: Vec<u64> = self.sealed.keys().copied().collect();
        if let Some((s, _)) = &self.open {
            keys.push(*s);
            keys.sort_unstable();
        }
        keys.into_iter().map(move |s| {
            let h = match (&self.open, self.sealed.get(&s)) {
                (Some((o, h)), _) if *o == s => h.clone(),
                (_, Some(d)) => d.histogram().unwrap_or_else(|_| histogram()),
                _ => histogram(),
            };
            (s, h)
        })
    }
}

/// A level over wall-clock seconds (connections open): for each second it changed in, the most
/// it reached and where it ended. Serialized as its seconds (Unix second -> [most, last]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LevelSeries {
    seconds: BTreeMap<u64, (u64, u64)>,
}

/// Seconds a level series fills in between its changes; beyond that (a stray timestamp) only the
/// seconds with changes are listed.
const LEVEL_FILL_MAX: u64 = 7 * 86_400;

impl LevelSeries {
    /// The level is `level` in Unix second `second`.
    pub fn note(&mut self, second: u64, level: u64) {
        let e = self.seconds.entry(second).or_insert((level, level));
        *e = (e.0.max(level), level);
    }

    /// The level where second `s` ended: its own last, else that of the latest second before.
    fn last_at(&self, s: u64) -> u64 {
        self.seconds.range(..=s).next_back().map_or(0, |(_, v)| v.1)
    }

    /// Adds `other` (another core's or shard's level): in each second either changed in, the
    /// sum of both, a side that did not change holding its level from before.
    pub fn merge(&mut self, other: &LevelSeries) {
        let keys: std::collections::BTreeSet<u64> = self.seconds.keys().chain(other.seconds.keys()).copied().collect();
        let side = |l: &LevelSeries, s: u64| l.seconds.get(&s).copied().unwrap_or_else(|| (l.last_at(s), l.last_at(s)));
        let merged = keys.into_iter().map(|s| {
            let (a, b) = (side(self, s), side(other, s));
            (s, (a.0 + b.0, a.1 + b.1))
        });
        self.seconds = merged.collect();
    }

    /// The most of each second from the first change to the last (seconds without a change at
    /// the level they held), as (Unix second, level).
    pub fn peaks(&self) -> Vec<(u64, u64)> {
        let (Some((&first, _)), Some((&last, _))) = (self.seconds.first_key_value(), self.seconds.last_key_value())
        else {
            return Vec::new();
        };
        if last - first > LEVEL_FILL_MAX {
            return self.seconds.iter().map(|(&s, v)| (s, v.0)).collect();
        }
        (first..=last).map(|s| (s, self.seconds.get(&s).map_or_else(|| self.last_at(s), |v| v.0))).collect()
    }
}

impl From<SecondSeries> for BTreeMap<u64, Deflated> {
    fn from(s: SecondSeries) -> Self {
        s.finish()
    }
}

impl From<BTreeMap<u64, Deflated>> for SecondSeries {
    fn from(sealed: BTreeMap<u64, Deflated>) -> Self {
        SecondSeries::from_seconds(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_hold_what_was_recorded_there_even_out_of_order() {
        let mut a = SecondSeries::default();
        a.record(100, 5);
        a.record(100, 7);
        a.record(102, 9);
        a.record(100, 11); // late: second 100 reopened
        let mut b = SecondSeries::default();
        b.record(101, 3);
        b.record(102, 4);
        b.record(105, 1); // seconds 103 and 104 have nothing: no rows for them
        a.merge(b);
        let seconds: Vec<(u64, u64, u64)> = a.seconds().map(|(s, h)| (s, h.len(), h.max())).collect();
        assert_eq!(seconds, vec![(100, 3, 11), (101, 1, 3), (102, 2, 9), (105, 1, 1)]);
        let again = SecondSeries::from_seconds(a.finish());
        assert_eq!(again.seconds().map(|(_, h)| h.len()).sum::<u64>(), 7);
        assert_eq!(SecondSeries::default().seconds().count(), 0);
    }

    #[test]
    fn levels_of_cores_add_up_second_by_second() {
        let mut a = LevelSeries::default();
        a.note(10, 1);
        a.note(10, 2);
        a.note(13, 1); // one closed in second 13
        let mut b = LevelSeries::default();
        b.note(11, 5);
        b.note(11, 4);
        a.merge(&b);
        // 10: a's 2; 11: a holds 2, b reached 5; 12: 2 + 4 held; 13: a down to 1, b holds 4.
        assert_eq!(a.peaks(), vec![(10, 2), (11, 7), (12, 6), (13, 5)]);
        let json = serde_json::to_string(&a).expect("json");
        assert_eq!(serde_json::from_str::<LevelSeries>(&json).expect("back"), a);
        assert!(LevelSeries::default().peaks().is_empty());
    }
}

//! The one wall clock of the service crates.
//!
//! Every timestamp Puente stores or compares (`created_at`, expiries, TTLs,
//! lease deadlines) comes from [`now`]: one style (`DateTime<Utc>`, which the
//! entities store), one place to read it. Durations measured for metrics and
//! sleeps use `tokio::time`, which tests already pause and advance.
//!
//! Tests set the time with [`TestClock`] (feature `test-support`): the code
//! they drive reads the test's instant, so "a key expires after 30 days" is
//! checked by moving the clock, not by waiting or by back-dating rows. The
//! override is task-local: it holds for the future given to
//! [`TestClock::run`] and what it awaits, not for tasks it spawns (a server
//! started inside keeps the real time).

use chrono::{DateTime, Utc};

/// The current time: the real one, or a test's while one is set.
pub fn now() -> DateTime<Utc> {
    #[cfg(any(test, feature = "test-support"))]
    if let Ok(instant) = test_clock::NOW.try_with(|c| *c.lock().expect("test clock lock")) {
        return instant;
    }
    Utc::now()
}

#[cfg(any(test, feature = "test-support"))]
pub use test_clock::TestClock;

/// The calling task's clock, to be set again where its work runs on
/// another task (the database writer's thread): a test's clock follows its
/// writes there. Without the test support it carries nothing.
#[derive(Clone, Default)]
pub(crate) struct Carried {
    #[cfg(any(test, feature = "test-support"))]
    instant: Option<std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>>,
}

impl Carried {
    /// The clock of the task calling this.
    pub(crate) fn here() -> Carried {
        Carried {
            #[cfg(any(test, feature = "test-support"))]
            instant: test_clock::NOW.try_with(|c| c.clone()).ok(),
        }
    }

    /// Runs `fut` with this clock.
    pub(crate) async fn run<F: std::future::Future>(self, fut: F) -> F::Output {
        #[cfg(any(test, feature = "test-support"))]
        if let Some(instant) = self.instant {
            return test_clock::NOW.scope(instant, fut).await;
        }
        fut.await
    }
}

#[cfg(any(test, feature = "test-support"))]
mod test_clock {
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    use chrono::{DateTime, Duration, Utc};

    tokio::task_local! {
        pub(super) static NOW: Arc<Mutex<DateTime<Utc>>>;
    }

    /// A settable clock for tests; clones share one instant.
    #[derive(Clone, Debug)]
    pub struct TestClock {
        instant: Arc<Mutex<DateTime<Utc>>>,
    }

    impl TestClock {
        /// A clock stopped at `instant`.
        pub fn at(instant: DateTime<Utc>) -> Self {
            Self {
                instant: Arc::new(Mutex::new(instant)),
            }
        }

        /// A clock stopped at the real current time.
        pub fn frozen() -> Self {
            Self::at(Utc::now())
        }

        pub fn now(&self) -> DateTime<Utc> {
            *self.instant.lock().expect("test clock lock")
        }

        /// Moves the clock forward (or back, with a negative duration).
        pub fn advance(&self, by: Duration) {
            *self.instant.lock().expect("test clock lock") += by;
        }

        /// Runs `fut` with [`super::now`] answering this clock's time.
        pub async fn run<F: Future>(&self, fut: F) -> F::Output {
            NOW.scope(self.instant.clone(), fut).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[tokio::test]
    async fn a_test_clock_answers_inside_its_scope_only() {
        let start = Utc.with_ymd_and_hms(2100, 1, 2, 3, 4, 5).unwrap();
        let clock = TestClock::at(start);
        let inside = clock
            .run(async {
                let first = now();
                clock.advance(Duration::hours(2));
                (first, now())
            })
            .await;
        assert_eq!(inside, (start, start + Duration::hours(2)));
        // Outside the scope the real clock answers.
        assert!(now() < start);
    }
}

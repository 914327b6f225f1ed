//! Each database the store runs on, for the store suite: the SQLite file in the test's data
//! directory, and a fresh PostgreSQL database per test on the server named by
//! `WHETSTONE_TEST_POSTGRES_URL` (created with a unique name, dropped after), so tests run in
//! parallel. Without the variable the PostgreSQL half says it skipped; in CI (`CI` set) it
//! fails instead, so a missing server is never mistaken for a pass.

use std::path::Path;

use sqlx::Connection;
use whetstone_coordinator::DatabaseUrl;

/// The variable naming the PostgreSQL server tests make their databases on.
pub const POSTGRES_URL_VAR: &str = "WHETSTONE_TEST_POSTGRES_URL";

/// Runs a test body once per database, as `<name>::sqlite` and `<name>::postgres`:
///
/// ```ignore
/// on_each_backend! {
///     async fn state_survives_a_restart(db) { let harness = Harness::start_on(db, |_| {}).await; … }
/// }
/// ```
macro_rules! on_each_backend {
    ($(#[$doc:meta])* async fn $name:ident($db:ident) $body:block) => {
        $(#[$doc])*
        mod $name {
            use super::*;

            async fn test($db: crate::backends::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                test(crate::backends::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = crate::backends::TestDb::postgres().await {
                    test(db).await;
                }
            }
        }
    };
}
pub(crate) use on_each_backend;

/// One test's database. A PostgreSQL one is dropped when this is.
#[derive(Debug)]
pub struct TestDb {
    postgres: Option<PostgresDb>,
}

#[derive(Debug)]
struct PostgresDb {
    /// The server's maintenance database, where databases are made and dropped.
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    pub fn sqlite() -> Self {
        Self { postgres: None }
    }

    /// A fresh, empty database on the test server; `None` (after saying so) when no server is
    /// configured outside CI.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL half of the store suite (.ci/run starts a server)"
            );
            eprintln!(
                "SKIPPED the PostgreSQL half of this test: {POSTGRES_URL_VAR} is not set. Start a throwaway server with \
                 `eval \"$(tools/pg-test-server start /tmp/whetstone-pg)\"` (README, \"The two commands\")."
            );
            return None;
        };
        let name = format!("whetstone_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL test server at {admin_url} ({POSTGRES_URL_VAR}): {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create the test database");
        admin.close().await.expect("close the admin connection");
        let mut url = url::Url::parse(&admin_url).expect("the test server URL parses");
        url.set_path(&format!("/{name}"));
        Some(Self { postgres: Some(PostgresDb { admin_url, name, url: url.to_string() }) })
    }

    /// The database a coordinator with this data directory uses: its SQLite file, or this
    /// test's PostgreSQL database.
    pub fn url(&self, data_dir: &Path) -> DatabaseUrl {
        match &self.postgres {
            Some(db) => db.url.parse().expect("the test database URL parses"),
            None => DatabaseUrl::in_data_dir(data_dir),
        }
    }

    /// The value for `CoordinatorConfig::database`: `None` keeps SQLite's default place.
    pub fn config_value(&self) -> Option<DatabaseUrl> {
        self.postgres.as_ref().map(|db| db.url.parse().expect("the test database URL parses"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(db) = self.postgres.take() else { return };
        // Drop cannot await and may run inside the test's runtime: a thread of its own drops
        // the database, closing any connection a stopped coordinator left (FORCE).
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&db.admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))).execute(&mut admin).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

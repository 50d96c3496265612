//! The store conformance suite: one set of behavioural tests that every
//! store must pass.
//!
//! Each test is an `async fn(Arc<dyn Store>)` written once, against the
//! trait object that the rest of Tayori uses. [`conformance!`] runs each on
//! SQLite (a fresh database file per test, always) and on PostgreSQL (a fresh
//! schema per test, dropped afterwards) when `TAYORI_TEST_DATABASE_URL` is
//! set:
//!
//! ```sh
//! cargo test -p tayori-store
//! TAYORI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p tayori-store
//! ```

mod conformance {
    pub mod catalog;
    pub mod channels;
    pub mod console;
    pub mod conversations;
    pub mod harness;
    pub mod import;
    pub mod inbound;
    pub mod isolation;
    pub mod outbox;
    pub mod plugins;
    pub mod reports;
    pub mod reports_all;
    pub mod subscribers;
    pub mod tenants;
    pub mod tokens;
    pub mod upgrade;
}

use conformance::*;

/// Declares every listed test once per engine: `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! conformance {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::harness::on_sqlite(crate::$module::$test).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::harness::on_postgres(crate::$module::$test).await
                }
            )*
        }
    };
}

conformance! {
    outbox::planning_the_same_rows_again_adds_nothing,
    outbox::a_plan_written_while_people_register_goes_in_whole,
    outbox::changes_are_read_above_the_cursor_taken_before,
    outbox::claims_are_leased_and_fenced,
    outbox::concurrent_claims_take_disjoint_rows,
    outbox::completions_retry_fail_and_defer,
    outbox::recipient_gone_invalidates_the_contact,
    outbox::unauthorized_pauses_the_channel_until_its_config_changes,
    outbox::a_failure_under_an_old_config_does_not_pause_the_new_one,
    outbox::the_lifecycle_cancels_pending_deliveries,
    outbox::kept_batches_are_claimed_whole,
    outbox::batches_are_recorded_by_their_claim_and_survive_deferral,
    outbox::concurrent_claims_take_kept_batches_whole,
    outbox::broadcasts_store_their_deliveries,
    outbox::send_counters_hold_windows,
    outbox::deliveries_are_paged_newest_first,
    outbox::outcomes_are_counted_per_plugin_version,
    inbound::an_event_is_recorded_once_and_acted_on_once,
    inbound::strangers_texts_and_postbacks_are_recorded_only,
    inbound::a_late_unfollow_is_superseded,
    inbound::events_are_scoped_by_tenant_and_channel,
    inbound::a_bad_event_is_refused_alone_and_the_rest_take_effect,
    inbound::erasure_removes_the_personal_data_of_inbound_events,
    conversations::conversations_are_saved_only_where_they_were_read,
    conversations::erasing_a_household_removes_its_conversations,
    conversations::front_door_events_are_counted_by_channel_and_kind,
    conversations::birth_questions_are_claimed_once_for_late_expected_children,
    reports::front_door_events_are_counted_per_range_on_its_edges,
    reports::deliveries_are_counted_per_day_and_failures_by_reason,
    reports::yearly_births_are_kept_and_checked,
    reports_all::figures_of_every_tenant_are_each_tenants_own,
    plugins::versions_are_inserted_once,
    plugins::concurrent_uploads_of_one_version_insert_it_once,
    plugins::versions_must_match_their_bytes,
    plugins::artifacts_are_kept_per_digest_and_engine,
    plugins::activation_and_rollback,
    plugins::canaries_roll_back_on_their_own,
    tenants::tenants_have_defaults_and_can_be_patched,
    tenants::tenant_ids_are_unique_and_checked,
    tenants::a_tenant_with_subscribers_is_not_deleted,
    channels::channels_are_put_read_and_deleted,
    channels::pausing_a_channel_and_putting_it_again,
    channels::channels_need_their_tenant,
    subscribers::a_subscriber_is_created_with_contacts_and_children,
    subscribers::a_refused_create_writes_nothing,
    subscribers::concurrent_registrations_get_the_answers_of_sequential_ones,
    subscribers::birth_and_stop,
    subscribers::stopping_a_subscriber_stops_every_child,
    subscribers::erasure_removes_personal_data_and_keeps_counts,
    subscribers::patching_contacts_keeps_the_unchanged_ones,
    subscribers::contacts_can_be_marked_invalid,
    subscribers::subscribers_are_listed_in_pages,
    import::an_import_creates_then_is_idempotent,
    import::a_reimport_updates_by_external_id,
    import::a_reimport_restores_the_file_after_other_changes,
    import::a_bad_row_leaves_nothing_behind,
    import::every_stored_refusal_is_listed_before_an_import,
    import::a_large_import_spans_many_statements,
    catalog::importing_a_program_replaces_it,
    catalog::a_refused_catalog_import_changes_nothing,
    catalog::local_inserts_and_extra_messages,
    tokens::tokens_are_found_by_hash_until_revoked,
    tokens::token_roles_and_scopes_must_agree,
    isolation::one_tenant_never_sees_another,
    console::invitations_make_accounts_once,
    console::wrong_passwords_lock_and_sessions_expire,
    console::the_audit_log_is_newest_first_and_scoped,
}

/// Reopening a database keeps its data and does not migrate twice.
#[tokio::test]
async fn sqlite_reopens_with_its_data() {
    let dir = harness::TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
    let store = tayori_store::connect(&url).await.unwrap();
    store
        .create_tenant(&tayori_core::NewTenant::new("minato", "港区"))
        .await
        .unwrap();
    drop(store);
    let again = tayori_store::connect(&url).await.unwrap();
    assert_eq!(again.tenant("minato").await.unwrap().name, "港区");
}

/// An in-memory database is one private database, whole across calls.
#[tokio::test]
async fn sqlite_in_memory_is_one_database() {
    let store = tayori_store::connect("sqlite::memory:").await.unwrap();
    harness::tenant(&store, "minato").await;
    let s = store
        .create_subscriber("minato", &harness::household("U1", "2027-05-01"))
        .await
        .unwrap();
    assert_eq!(store.subscriber("minato", &s.id).await.unwrap(), s);
    let other = tayori_store::connect("sqlite::memory:").await.unwrap();
    assert!(other.tenants().await.unwrap().is_empty());
}

/// A URL of no known engine is refused with a message that says what to use.
#[tokio::test]
async fn unknown_schemes_are_refused() {
    let err = tayori_store::connect("mysql://root:hunter2@localhost/db")
        .await
        .err()
        .expect("mysql is not supported");
    let text = err.to_string();
    assert!(text.contains("sqlite://PATH"), "{text}");
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}

/// A SQLite database of the release before migration 0011 (delivery keys
/// unique per tenant and day; the table is rebuilt) keeps its deliveries
/// and their ids.
#[tokio::test]
async fn sqlite_upgrade_keeps_planned_deliveries() {
    use sqlx::{Connection, Executor};
    let dir = harness::TempDir::new();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("tayori.db").display()
    );
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        upgrade::migrator_up_to("sqlite", 10)
            .await
            .run(&mut conn)
            .await
            .unwrap();
        for statement in upgrade::BEFORE_0011 {
            conn.execute(*statement).await.unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = tayori_store::connect(&url).await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let conn = tokio::sync::Mutex::new(&mut conn);
    let indexes = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
                   AND name IN ('deliveries_scheduled_key', 'deliveries_broadcast_key')";
    upgrade::check_after_0011(store.as_ref(), indexes, async |sql: &str| {
        let mut conn = conn.lock().await;
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut **conn)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
}

/// The same upgrade on PostgreSQL (a constraint dropped, indexes added).
#[tokio::test]
async fn postgres_upgrade_keeps_planned_deliveries() {
    use sqlx::{Connection, Executor};
    harness::on_postgres_schema(async |url: String| {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        upgrade::migrator_up_to("postgres", 10)
            .await
            .run(&mut conn)
            .await
            .unwrap();
        for statement in upgrade::BEFORE_0011 {
            conn.execute(*statement).await.unwrap();
        }
        let store = tayori_store::connect(&url).await.unwrap();
        let conn = tokio::sync::Mutex::new(&mut conn);
        let indexes = "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() \
                       AND indexname IN ('deliveries_scheduled_key', 'deliveries_broadcast_key')";
        upgrade::check_after_0011(store.as_ref(), indexes, async |sql: &str| {
            let mut conn = conn.lock().await;
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut **conn)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
    })
    .await;
}

/// A change committed after the planner read its cursor is read by the next
/// pass (SQLite: the writer's transaction is open while a reader takes the
/// cursor).
#[tokio::test]
async fn sqlite_a_change_committed_after_the_cursor_is_above_it() {
    use sqlx::{Connection, Executor};
    let dir = harness::TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
    let store = tayori_store::connect(&url).await.unwrap();
    let conn = tokio::sync::Mutex::new(sqlx::SqliteConnection::connect(&url).await.unwrap());
    outbox::a_change_committed_after_the_cursor_is_above_it(
        store,
        "BEGIN IMMEDIATE",
        false,
        async |sql: &str| {
            conn.lock().await.execute(sql).await.unwrap();
        },
    )
    .await;
}

/// The same on PostgreSQL, where transaction ids (the change numbers) are
/// not given in commit order.
#[tokio::test]
async fn postgres_a_change_committed_after_the_cursor_is_above_it() {
    use sqlx::{Connection, Executor};
    harness::on_postgres_schema(async |url: String| {
        let store = tayori_store::connect(&url).await.unwrap();
        let conn = tokio::sync::Mutex::new(sqlx::PgConnection::connect(&url).await.unwrap());
        outbox::a_change_committed_after_the_cursor_is_above_it(
            store,
            "BEGIN",
            true,
            async |sql: &str| {
                conn.lock().await.execute(sql).await.unwrap();
            },
        )
        .await;
    })
    .await;
}

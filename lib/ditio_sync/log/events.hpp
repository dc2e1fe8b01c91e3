// Every event ditio-sync logs, with its meaning and fields: the one list. log::event() takes only names
// from it (checked at compile time), and README's event table is this list (tests/unit/test_log_events.cpp).
#pragma once

#include <string_view>

namespace ditio_sync::log {

struct event_def {
    std::string_view name;
    std::string_view meaning;
    std::string_view fields;
};

// In the README's order: a run's life, the stream's state, the daemon, authentication and HTTP, the
// outbox, the store, the process.
inline constexpr event_def events[] = {
    {"sync.run_started",
     "a run began or resumed",
     "`stream`, `run_id`, `mode`, `resumed`, the query (`FromDateTime`, `ToDateTime` or `ModifiedSince`), "
     "`page` when resumed"},
    {"sync.page_committed",
     "one page is in the database, checkpoint saved",
     "`stream`, `run_id`, `page`, `records`, `deleted`, `bytes`, `ms`"},
    {"sync.record_quarantined",
     "a record that breaks the record contract (no string id, a modifiedDateTime that is not a date-time) "
     "went to the quarantine table; its page committed. The first 5 of a run, then one line per page",
     "`stream`, `run_id`, `reason`, `record_id`, `excerpt` (redacted, cut); past the cap `records` and "
     "`not_logged`"},
    {"sync.parent_unknown",
     "records of a stream keyed by parent (images) carry none of the parent id fields: their rows are "
     "keyed by their context instead (docs/live-ditio.md section 6); once per run",
     "`stream`, `run_id`, `records` (on the page), `looked_for`, `parent_ref` (the first row's)"},
    {"sync.progress",
     "a long run's progress, every 10 s",
     "`stream`, `run_id`, `pages`, `rows`, `rows_per_s`, `elapsed_s`"},
    {"sync.run_finished",
     "a run ended",
     "`stream`, `run_id`, `mode`, `status` (`ok`, `failed`, `auth_refused`, `db_error`, `cancelled`, "
     "`unavailable`), `pages`, `upserted`, `deleted`, `swept`, `ms`, `error`"},
    {"sync.run_failed",
     "a run could not start (the database refused its bookkeeping)",
     "`stream`, `status`, `error`"},
    {"sync.window_split",
     "Ditio refused the first page of a full-sync window (a 400, whatever its body): asking for half of it, "
     "down to a day",
     "`stream`, `run_id`, `from`, `refused_to`, `to`, `reason`"},
    {"sync.window_piece",
     "the run moves on to the next piece of a split window",
     "`stream`, `run_id`, `from`, `to` (of the next piece)"},
    {"sync.incremental_refused",
     "Ditio refused an incremental run on its first page (a 400): the run goes on as a full re-sync, once",
     "`stream`, `run_id`, `modified_since`, `status`, `reason` (Ditio's message), `next`"},
    {"sync.incremental_skipped",
     "the watermark is older than the stream's `max_incremental_age`: the run is a full re-sync, without "
     "asking Ditio",
     "`stream`, `watermark`, `modified_since`, `max_incremental_age`, `next`"},
    {"sync.run_restarted",
     "Ditio rejected the continuation token; the run restarts from page 1",
     "`stream`, `run_id`, `reason`"},
    {"sync.token_cycle",
     "Ditio sent a continuation token again within one run: the run fails",
     "`stream`, `run_id`, `page`, `continuation_tokens` (how many the run had seen)"},
    {"sync.stream_unavailable",
     "the endpoint answered 404: warning the first time, debug after",
     "`stream`, `error`"},
    {"sync.clock_skew",
     "Ditio's `Date` and the local clock differ by more than 5 minutes (see [Clocks](#clocks))",
     "`stream`, `server_date`, `local_time`, `skew_s`, `watermark_from` (`local` or `server`)"},
    {"sync.watermark_repaired",
     "a saved watermark lay in the future or before 2000: the stream runs a full sync",
     "`stream`, `watermark`, `reason`, `local_time`, `next`"},
    {"sync.state_write_failed",
     "the stream's state (last error, next run, unavailable) could not be saved; the run's own result "
     "stands",
     "`stream`, `error`"},
    {"sync.stream_reset", "`ditio-sync reset` cleared a stream's watermark and checkpoint", "`stream`"},
    {"sync.stream_backoff",
     "`run` will retry a failed stream sooner",
     "`stream`, `status`, `failures`, `retry_in_ms`, `error`"},
    {"sync.next_run", "(debug) when `run` syncs the stream next", "`stream`, `in_ms`"},
    {"sync.summary",
     "one line per pass of the daemon",
     "`streams`, `ok`, `failed`, `rows`, `ms`, `next_in_ms`"},
    {"sync.scheduler_crashed",
     "an unexpected error stopped the daemon (exit 1; systemd restarts it)",
     "`error`"},
    {"auth.token_refreshed", "a new access token", "`expires_in_s`, `scope` (the scopes it carries)"},
    {"auth.token_rejected", "the API answered 401; refreshing once", "`stream` or `outbox`, `status`"},
    {"auth.refused", "the identity server refused the client or scope", "`status`, `error`, `hint`"},
    {"auth.feature_off",
     "the API client was not granted a scope a feature needs: that feature is off, the others run (said "
     "once per client and scope)",
     "`feature`, `scope`, `asked`, `granted`, `reason`"},
    {"http.retry",
     "a request will be retried",
     "`stream` (or `outbox`: `projects`, `work_orders`), `attempt`, `status`, `reason`, `delay_ms`"},
    {"http.reconnect",
     "(debug) a kept-alive connection was closed by the server; the request goes out on a new one",
     "`origin`, `reason`"},
    {"http.response",
     "(debug) one per request",
     "`method`, `origin`, `path`, `status`, `bytes`, `reused`, `ms`"},
    {"push.sent",
     "an outbox row is in Ditio",
     "`outbox` (`project`, `work_order`), `project_number`, `external_id`, `ditio_id`, `action` (`created`, "
     "`updated`, `unchanged`), `row_changed` (the row was edited meanwhile and goes out again)"},
    {"push.failed",
     "Ditio refused a row (400, 403, 404): status `failed`, not retried until the row changes",
     "`outbox`, `project_number`, `external_id`, `status`, `error`"},
    {"push.stopped",
     "a push pass ended early (Ditio unreachable, credentials refused); the rows stay pending",
     "`outbox`, `project_number`, `external_id`, `status`, `error`"},
    {"push.misconfigured",
     "the Integration API base (`ditio.api_base`) answered 404 or 405 with a page that is not Ditio's "
     "JSON error: a configuration error; the pass ends, the rows stay pending (once per pass)",
     "`key`, `url`, `status`, `answer`"},
    {"push.feature_off",
     "a push pass did not run: the API client lacks the `ditioapiv3` scope; the rows stay pending",
     "`error`"},
    {"push.waiting",
     "a work order waits for its project, which is pending or failed in the outbox (warning once per "
     "reason, then debug)",
     "`project_number`, `external_id`, `reason`"},
    {"push.create_retry",
     "a work-order create may have failed (5xx, reset, timeout) and the lookup did not find it: asking "
     "again",
     "`project_number`, `external_id`, `attempt`, `status`, `reason`, `delay_ms`"},
    {"push.work_orders_reopened",
     "work orders that failed for want of their project are pending again",
     "`project_number`, `work_orders`"},
    {"push.summary", "one line per push pass", "`sent`, `failed`, `pending`, `retries_left`"},
    {"push.database_error",
     "the daemon's push pass could not read or record the outbox (locked beyond `storage.busy_timeout`, "
     "disk full); the next pass is after `push.interval`",
     "`error`"},
    {"push.watch_unavailable",
     "inotify could not watch the database's directory; the daemon looks at the outbox every "
     "`push.check_every` instead",
     "`error`"},
    {"push.crashed",
     "an unexpected error stopped the daemon's outbox loop (exit 1; systemd restarts it)",
     "`error`"},
    {"store.migrated", "the schema was created or upgraded", "`from_version`, `to_version`, `path`"},
    {"store.busy_retry",
     "a page met another writer's lock beyond `storage.busy_timeout`; committing again",
     "`stream`, `run_id`, `attempt`, `delay_ms`"},
    {"config.file_missing",
     "there is no file at the default configuration path: defaults and the environment apply",
     "`path`, `hint`"},
    {"config.deprecated_key",
     "a deprecated key is set: it still works as described in `means`; `hint` says what to write instead",
     "`key`, `means`, `hint`"},
    {"config.secret_file_readable",
     "the client secret's file may be read by its group or every user",
     "`warning`"},
    {"app.switched_user",
     "run as root on the service user's database: the command runs as that user, so root creates "
     "nothing the service cannot open",
     "`user`, `uid`, `path`"},
    {"app.started", "the daemon is up", "`version`, `streams`, `interval_s`, `push`, `database`"},
    {"app.stopping", "SIGTERM or SIGINT: the daemon finishes the page in hand and stops", "`signal`"},
    {"app.forced_exit", "a second SIGTERM/SIGINT during shutdown: exit at once", "`signal`"},
    {"app.stopped", "the daemon stopped", "`crashed`"},
    {"app.reloaded",
     "SIGHUP: the new configuration applies (warning when some keys need a restart, named in "
     "`needs_restart`)",
     "`streams`, `needs_restart`"},
    {"app.reload_failed", "SIGHUP: the new configuration was refused and the old one kept", "`error`"},
    {"app.notify_failed", "a systemd notification could not be sent", "`error`"},
    {"app.config_error", "the configuration is wrong: the command did not start", "`error`, `exit_code`"},
    {"app.usage_error",
     "the command line names something that does not exist (a stream, a missing `--company`)",
     "`error`, `exit_code`"},
    {"app.database_error",
     "the database cannot be used (locked, read-only, full, newer schema): the command did not start",
     "`error`, `exit_code`"},
    {"ops.listening", "the metrics and health endpoint is up", "`address`, `port`, `paths`"},
    {"ops.accept_failed", "the metrics endpoint could not accept a connection; it goes on", "`error`"},
    {"ops.connection_failed", "one metrics or health request failed; the endpoint goes on", "`error`"},
};

// Not constexpr: a consteval call that reaches it does not compile, and the compiler names it.
inline void unknown_log_event_add_it_to_log_events_in_log_events_hpp() {}

consteval bool is_known_event(std::string_view name)
{
    for (const auto& e : events)
        if (e.name == name)
            return true;
    return false;
}

// An event's name, checked against `events` where it is written: a name missing from the list does not
// compile.
class event_name {
public:
    // NOLINTNEXTLINE(google-explicit-constructor): call sites pass the literal, as before.
    consteval event_name(const char* name) : name_(name)
    {
        if (!is_known_event(name_))
            unknown_log_event_add_it_to_log_events_in_log_events_hpp();
    }
    constexpr std::string_view str() const { return name_; }

private:
    std::string_view name_;
};

} // namespace ditio_sync::log

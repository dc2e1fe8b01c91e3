#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/quarantine.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <string_view>

namespace ditio_sync::store {
namespace {

std::optional<std::string> opt_text(const SQLite::Column& c)
{
    if (c.isNull())
        return std::nullopt;
    return c.getString();
}

template <class T> void bind_opt(SQLite::Statement& s, const char* name, const std::optional<T>& v)
{
    if (v)
        s.bind(name, *v);
    else
        s.bind(name);
}

// The sync_state assignments that end (or forget) the run in progress; its checkpoint goes with it.
constexpr std::string_view no_run =
    "run_id = NULL, run_mode = NULL, run_params = NULL, run_server_start = NULL, "
    "run_local_start = NULL, continuation_token = NULL, pages_done = 0";

constexpr const char* select_state =
    R"(SELECT stream, watermark, last_full_sync_at, run_id, run_mode, run_params,
    run_server_start, run_local_start, continuation_token, pages_done, last_success_at, last_error, last_error_at,
    unavailable_at, next_run_at, overlap_ms, window_span_s
    FROM sync_state)";

stream_state read_state(SQLite::Statement& q)
{
    stream_state s;
    s.stream = q.getColumn(0).getString();
    s.watermark = opt_text(q.getColumn(1));
    s.last_full_sync_at = opt_text(q.getColumn(2));
    if (!q.getColumn(3).isNull())
        s.run_id = q.getColumn(3).getInt64();
    s.run_mode = q.getColumn(4).getString();
    s.run_params = q.getColumn(5).getString();
    s.run_server_start = opt_text(q.getColumn(6));
    s.run_local_start = opt_text(q.getColumn(7));
    s.continuation_token = opt_text(q.getColumn(8));
    s.pages_done = q.getColumn(9).getInt64();
    s.last_success_at = opt_text(q.getColumn(10));
    s.last_error = opt_text(q.getColumn(11));
    s.last_error_at = opt_text(q.getColumn(12));
    s.unavailable_at = opt_text(q.getColumn(13));
    s.next_run_at = opt_text(q.getColumn(14));
    if (!q.getColumn(15).isNull())
        s.overlap = std::chrono::milliseconds{q.getColumn(15).getInt64()};
    if (!q.getColumn(16).isNull())
        s.window_span_s = q.getColumn(16).getInt64();
    return s;
}

} // namespace

sync_store::sync_store(SQLite::Database& db) : db_(db) {}

mirror_table& sync_store::mirror(const std::string& table, bool tombstones_carry_data)
{
    auto& m = mirrors_[table];
    if (!m)
        m = std::make_unique<mirror_table>(db_, table, tombstones_carry_data);
    return *m;
}

void sync_store::ensure_row(const std::string& stream, const std::string& now)
{
    SQLite::Statement s(
        db_, "INSERT INTO sync_state (stream, updated_at) VALUES (:s, :now) ON CONFLICT (stream) DO NOTHING"
    );
    s.bind(":s", stream);
    s.bind(":now", now);
    s.exec();
}

void sync_store::prune_runs(const std::string& stream, const std::string& now, const run_retention& retention)
{
    // No time to count back from (only tests pass one): keep by count alone.
    auto now_time = util::parse_iso8601(now);
    auto cutoff =
        now_time ? util::format_iso8601_ms(
                       *now_time - std::chrono::duration_cast<std::chrono::microseconds>(retention.keep_for)
                   )
                 : std::string{};
    // Started before keep_for, or not among the newest `keep` of the stream (by id: the order runs began
    // in, whatever the clock said); never the run in progress.
    SQLite::Statement q(db_, R"(DELETE FROM sync_runs WHERE stream = :s
        AND id IS NOT (SELECT run_id FROM sync_state WHERE stream = :s)
        AND (started_at < :cutoff OR id < coalesce(
            (SELECT id FROM sync_runs WHERE stream = :s ORDER BY id DESC LIMIT 1 OFFSET :keep), 0)))");
    q.bind(":s", stream);
    q.bind(":cutoff", cutoff);
    q.bind(":keep", static_cast<std::int64_t>(std::max<std::int64_t>(retention.keep - 1, 0)));
    q.exec();
}

std::optional<stream_state> sync_store::load(const std::string& stream)
{
    return guarded("reading sync_state", [&]() -> std::optional<stream_state> {
        SQLite::Statement q(db_, std::string(select_state) + " WHERE stream = :s");
        q.bind(":s", stream);
        if (!q.executeStep())
            return std::nullopt;
        return read_state(q);
    });
}

std::vector<stream_state> sync_store::load_all()
{
    return guarded("reading sync_state", [&] {
        std::vector<stream_state> out;
        SQLite::Statement q(db_, std::string(select_state) + " ORDER BY stream");
        while (q.executeStep())
            out.push_back(read_state(q));
        return out;
    });
}

std::int64_t sync_store::begin_run(
    const std::string& stream,
    const std::string& mode,
    const std::string& params_json,
    const std::string& now,
    const run_retention& retention
)
{
    return guarded("starting a run", [&] {
        check_in_place(db_);
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        ensure_row(stream, now);
        // A run left in progress by an explicit full request is superseded, not resumed.
        SQLite::Statement old(
            db_, R"(UPDATE sync_runs SET status = 'interrupted', finished_at = coalesce(finished_at, :now)
            WHERE id = (SELECT run_id FROM sync_state WHERE stream = :s) AND status = 'running')"
        );
        old.bind(":now", now);
        old.bind(":s", stream);
        old.exec();
        SQLite::Statement ins(db_, R"(INSERT INTO sync_runs (stream, mode, started_at, status, params)
            VALUES (:s, :mode, :now, 'running', :params))");
        ins.bind(":s", stream);
        ins.bind(":mode", mode);
        ins.bind(":now", now);
        ins.bind(":params", params_json);
        ins.exec();
        auto run_id = db_.getLastInsertRowid();
        SQLite::Statement st(
            db_, R"(UPDATE sync_state SET run_id = :run, run_mode = :mode, run_params = :params,
            run_server_start = NULL, run_local_start = :now, continuation_token = NULL, pages_done = 0, updated_at = :now
            WHERE stream = :s)"
        );
        st.bind(":run", run_id);
        st.bind(":mode", mode);
        st.bind(":params", params_json);
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        prune_runs(stream, now, retention);
        tx.commit();
        return run_id;
    });
}

void sync_store::resume_run(const std::string& stream, std::int64_t run_id, const std::string& now)
{
    guarded("resuming a run", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement s(
            db_, "UPDATE sync_runs SET status = 'running', finished_at = NULL WHERE id = :run"
        );
        s.bind(":run", run_id);
        s.exec();
        SQLite::Statement st(db_, "UPDATE sync_state SET updated_at = :now WHERE stream = :s");
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        tx.commit();
    });
}

void sync_store::restart_run(const std::string& stream, std::int64_t run_id, const std::string& now)
{
    guarded("restarting a run", [&] {
        SQLite::Statement st(
            db_, R"(UPDATE sync_state SET continuation_token = NULL, pages_done = 0, updated_at = :now
            WHERE stream = :s AND run_id = :run)"
        );
        st.bind(":now", now);
        st.bind(":s", stream);
        st.bind(":run", run_id);
        st.exec();
    });
}

commit_result sync_store::apply_records(const page_commit& pc, mirror_table& table)
{
    commit_result out;
    auto counts = table.apply(*pc.records, pc.run_id, pc.now);
    out.upserted = counts.upserted;
    out.deleted = counts.deleted;
    out.quarantined = quarantine_page(
        db_,
        pc.stream,
        pc.run_id,
        pc.now,
        pc.quarantined ? *pc.quarantined : std::vector<model::quarantined_record>{},
        *pc.records
    );
    return out;
}

void sync_store::count_page(const page_commit& pc, const commit_result& done, page_position position)
{
    bool last = position == page_position::last;
    SQLite::Statement run(db_, R"(UPDATE sync_runs SET pages = pages + 1, rows_upserted = rows_upserted + :up,
        rows_deleted = rows_deleted + :del,
        status = CASE WHEN :last THEN 'ok' ELSE status END,
        finished_at = CASE WHEN :last THEN :now ELSE finished_at END
        WHERE id = :run)");
    run.bind(":up", done.upserted);
    run.bind(":del", done.deleted + done.swept);
    run.bind(":last", last ? 1 : 0);
    run.bind(":now", pc.now);
    run.bind(":run", pc.run_id);
    run.exec();
}

commit_result sync_store::commit_page(const page_commit& pc)
{
    return guarded(fmt::format("committing a page of {}", pc.stream), [&] {
        check_in_place(db_);
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        auto out = apply_records(pc, mirror(pc.table, pc.tombstones_carry_data));
        { // a statement still stepping would keep the commit from going through
            SQLite::Statement st(
                db_, R"(UPDATE sync_state SET continuation_token = :tok, pages_done = pages_done + 1,
                run_params = coalesce(:params, run_params),
                run_server_start = coalesce(run_server_start, :server_start), unavailable_at = NULL,
                window_span_s = coalesce(:span, window_span_s), updated_at = :now
                WHERE stream = :s AND run_id = :run RETURNING pages_done)"
            );
            bind_opt(st, ":tok", pc.next_token);
            bind_opt(st, ":params", pc.next_params);
            bind_opt(st, ":server_start", pc.server_start);
            bind_opt(st, ":span", pc.window_span_s);
            st.bind(":now", pc.now);
            st.bind(":s", pc.stream);
            st.bind(":run", pc.run_id);
            if (!st.executeStep())
                throw db_error(db_failure::other, "sync_state lost the run in progress for " + pc.stream);
            out.pages_done = st.getColumn(0).getInt64();
        }
        count_page(pc, out, page_position::within_run);
        tx.commit();
        return out;
    });
}

commit_result sync_store::finish_run(const page_commit& pc, const run_end& end)
{
    return guarded(fmt::format("committing a page of {}", pc.stream), [&] {
        check_in_place(db_);
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        auto& table = mirror(pc.table, pc.tombstones_carry_data);
        auto out = apply_records(pc, table);
        if (end.sweep)
            out.swept = table.sweep(pc.run_id, end.window_field, end.window_from, end.window_to, pc.now);
        if (end.full)
            out.quarantined = drop_unseen_quarantine(db_, pc.stream, pc.run_id);
        { // a statement still stepping would keep the commit from going through
            SQLite::Statement q(db_, "SELECT pages_done FROM sync_state WHERE stream = :s AND run_id = :run");
            q.bind(":s", pc.stream);
            q.bind(":run", pc.run_id);
            if (!q.executeStep())
                throw db_error(db_failure::other, "sync_state lost the run in progress for " + pc.stream);
            out.pages_done = q.getColumn(0).getInt64() + 1;
        }
        SQLite::Statement st(
            db_,
            fmt::format(
                R"(UPDATE sync_state SET watermark = :wm,
            last_full_sync_at = CASE WHEN :full THEN :now ELSE last_full_sync_at END, {},
            last_success_at = :now, last_error = NULL, last_error_at = NULL, unavailable_at = NULL,
            overlap_ms = coalesce(:overlap, overlap_ms), window_span_s = coalesce(:span, window_span_s),
            updated_at = :now
            WHERE stream = :s AND run_id = :run)",
                no_run
            )
        );
        st.bind(":wm", end.watermark);
        bind_opt(st, ":overlap", end.overlap_ms);
        bind_opt(st, ":span", pc.window_span_s);
        st.bind(":full", end.full ? 1 : 0);
        st.bind(":now", pc.now);
        st.bind(":s", pc.stream);
        st.bind(":run", pc.run_id);
        st.exec();
        count_page(pc, out, page_position::last);
        tx.commit();
        return out;
    });
}

void sync_store::fail_run(
    const std::string& stream,
    std::int64_t run_id,
    const std::string& error_text,
    const std::string& now,
    run_checkpoint checkpoint
)
{
    guarded("recording a failed run", [&] {
        auto error = util::safe_excerpt(error_text, util::max_excerpt_bytes);
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement r(
            db_, "UPDATE sync_runs SET status = 'failed', finished_at = :now, error = :err WHERE id = :run"
        );
        r.bind(":now", now);
        r.bind(":err", error);
        r.bind(":run", run_id);
        r.exec();
        SQLite::Statement st(
            db_,
            "UPDATE sync_state SET last_error = :err, last_error_at = :now, updated_at = :now WHERE stream = "
            ":s"
        );
        st.bind(":err", error);
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        if (checkpoint == run_checkpoint::drop) {
            SQLite::Statement clear(
                db_, fmt::format("UPDATE sync_state SET {} WHERE stream = :s AND run_id = :run", no_run)
            );
            clear.bind(":s", stream);
            clear.bind(":run", run_id);
            clear.exec();
        }
        tx.commit();
    });
}

void sync_store::interrupt_run(const std::string& stream, std::int64_t run_id, const std::string& now)
{
    guarded("recording an interrupted run", [&] {
        SQLite::Statement r(
            db_,
            "UPDATE sync_runs SET status = 'interrupted', finished_at = :now WHERE id = :run AND status = "
            "'running'"
        );
        r.bind(":now", now);
        r.bind(":run", run_id);
        r.exec();
        (void)stream;
    });
}

void sync_store::record_error(
    const std::string& stream, const std::string& error_text, const std::string& now
)
{
    guarded("recording an error", [&] {
        auto error = util::safe_excerpt(error_text, util::max_excerpt_bytes);
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        ensure_row(stream, now);
        SQLite::Statement st(
            db_,
            "UPDATE sync_state SET last_error = :err, last_error_at = :now, updated_at = :now WHERE stream = "
            ":s"
        );
        st.bind(":err", error);
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        tx.commit();
    });
}

void sync_store::reset(const std::string& stream, const std::string& now)
{
    guarded("resetting a stream", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        ensure_row(stream, now);
        clear_quarantine(db_, stream);
        SQLite::Statement r(db_, R"(UPDATE sync_runs SET status = 'interrupted', finished_at = :now
            WHERE id = (SELECT run_id FROM sync_state WHERE stream = :s) AND finished_at IS NULL)");
        r.bind(":now", now);
        r.bind(":s", stream);
        r.exec();
        SQLite::Statement st(
            db_,
            fmt::format(
                "UPDATE sync_state SET watermark = NULL, {}, unavailable_at = NULL, window_span_s = NULL, "
                "updated_at = :now WHERE stream = :s",
                no_run
            )
        );
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        tx.commit();
    });
}

void sync_store::start_from(const stream_state& other, const std::string& now)
{
    guarded("copying a stream's watermark", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        ensure_row(other.stream, now);
        SQLite::Statement st(
            db_,
            "UPDATE sync_state SET watermark = :wm, last_full_sync_at = :full, overlap_ms = :overlap, "
            "updated_at = :now WHERE stream = :s"
        );
        bind_opt(st, ":wm", other.watermark);
        bind_opt(st, ":full", other.last_full_sync_at);
        std::optional<std::int64_t> overlap;
        if (other.overlap)
            overlap = other.overlap->count();
        bind_opt(st, ":overlap", overlap);
        st.bind(":now", now);
        st.bind(":s", other.stream);
        st.exec();
        tx.commit();
    });
}

bool sync_store::mark_unavailable(const std::string& stream, std::int64_t run_id, const std::string& now)
{
    return guarded("recording an unavailable stream", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        ensure_row(stream, now);
        SQLite::Statement r(
            db_,
            "UPDATE sync_runs SET status = 'unavailable', finished_at = :now WHERE id = :run AND status = "
            "'running'"
        );
        r.bind(":now", now);
        r.bind(":run", run_id);
        r.exec();
        SQLite::Statement q(db_, "SELECT unavailable_at IS NULL FROM sync_state WHERE stream = :s");
        q.bind(":s", stream);
        bool newly = q.executeStep() && q.getColumn(0).getInt() != 0;
        // The run is over; the watermark stays for the day the endpoint comes back.
        SQLite::Statement st(
            db_,
            fmt::format(
                "UPDATE sync_state SET unavailable_at = coalesce(unavailable_at, :now), {}, updated_at = "
                ":now "
                "WHERE stream = :s",
                no_run
            )
        );
        st.bind(":now", now);
        st.bind(":s", stream);
        st.exec();
        tx.commit();
        return newly;
    });
}

void sync_store::update_run_params(const std::string& stream, std::int64_t run_id, const std::string& params)
{
    guarded("saving a run's parameters", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement st(
            db_, "UPDATE sync_state SET run_params = :p WHERE stream = :s AND run_id = :run"
        );
        st.bind(":p", params);
        st.bind(":s", stream);
        st.bind(":run", run_id);
        st.exec();
        SQLite::Statement r(db_, "UPDATE sync_runs SET params = :p WHERE id = :run");
        r.bind(":p", params);
        r.bind(":run", run_id);
        r.exec();
        tx.commit();
    });
}

void sync_store::replan_run(
    const std::string& stream, std::int64_t run_id, const std::string& mode, const std::string& params
)
{
    guarded("saving a run's parameters", [&] {
        SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement st(db_, R"(UPDATE sync_state SET run_mode = :mode, run_params = :p,
            continuation_token = NULL, pages_done = 0 WHERE stream = :s AND run_id = :run)");
        st.bind(":mode", mode);
        st.bind(":p", params);
        st.bind(":s", stream);
        st.bind(":run", run_id);
        st.exec();
        SQLite::Statement r(db_, "UPDATE sync_runs SET mode = :mode, params = :p WHERE id = :run");
        r.bind(":mode", mode);
        r.bind(":p", params);
        r.bind(":run", run_id);
        r.exec();
        tx.commit();
    });
}

void sync_store::set_next_run(const std::string& stream, const std::string& at, const std::string& now)
{
    guarded("saving the next run time", [&] {
        ensure_row(stream, now);
        SQLite::Statement st(db_, "UPDATE sync_state SET next_run_at = :at WHERE stream = :s");
        st.bind(":at", at);
        st.bind(":s", stream);
        st.exec();
    });
}

std::optional<run_record> sync_store::last_run(const std::string& stream)
{
    return guarded("reading the last run", [&]() -> std::optional<run_record> {
        SQLite::Statement q(db_, R"(SELECT id, mode, status, started_at, finished_at, pages, rows_upserted,
            rows_deleted, error FROM sync_runs WHERE stream = :s ORDER BY id DESC LIMIT 1)");
        q.bind(":s", stream);
        if (!q.executeStep())
            return std::nullopt;
        run_record r;
        r.id = q.getColumn(0).getInt64();
        r.mode = q.getColumn(1).getString();
        r.status = q.getColumn(2).getString();
        r.started_at = q.getColumn(3).getString();
        r.finished_at = opt_text(q.getColumn(4));
        r.pages = q.getColumn(5).getInt64();
        r.upserted = q.getColumn(6).getInt64();
        r.deleted = q.getColumn(7).getInt64();
        r.error = opt_text(q.getColumn(8));
        return r;
    });
}

std::int64_t sync_store::live_rows(const std::string& table)
{
    return guarded("counting rows", [&] {
        return db_.execAndGet(fmt::format("SELECT count(*) FROM {} WHERE is_deleted = 0", table)).getInt64();
    });
}

bool sync_store::is_empty(const std::string& table)
{
    return guarded("counting rows", [&] {
        return db_.execAndGet(fmt::format("SELECT NOT EXISTS (SELECT 1 FROM {})", table)).getInt() != 0;
    });
}

std::int64_t sync_store::deleted_rows(const std::string& table)
{
    return guarded("counting rows", [&] {
        return db_.execAndGet(fmt::format("SELECT count(*) FROM {} WHERE is_deleted = 1", table)).getInt64();
    });
}

std::int64_t sync_store::quarantined(const std::string& stream)
{
    return guarded("counting quarantined records", [&] { return quarantine_count(db_, stream); });
}

} // namespace ditio_sync::store

// The database thread: owns the only read-write SQLite connection and runs store work handed to it, so a
// slow fsync never stalls the network event loop. Coroutines hop there and back with run().
#pragma once

#include <ditio_sync/store/outbox.hpp>
#include <ditio_sync/store/sync_state.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <type_traits>

namespace ditio_sync::sync {

class db_worker {
public:
    explicit db_worker(SQLite::Database db)
        : db_(std::make_unique<SQLite::Database>(std::move(db))), store_(*db_), outbox_(*db_)
    {
    }
    ~db_worker() { pool_.join(); }
    db_worker(const db_worker&) = delete;
    db_worker& operator=(const db_worker&) = delete;

    // Runs f(store) on the database thread and resumes the caller on its own executor with the result;
    // exceptions (store::db_error) propagate to the caller.
    template <class F> boost::asio::awaitable<std::invoke_result_t<F&, store::sync_store&>> run(F f)
    {
        return on_thread([this, f = std::move(f)]() mutable { return f(store_); });
    }

    // The same for the outbox tables.
    template <class F> boost::asio::awaitable<std::invoke_result_t<F&, store::outbox_store&>> outbox(F f)
    {
        return on_thread([this, f = std::move(f)]() mutable { return f(outbox_); });
    }

    boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }
    store::sync_store& store_unsafe() { return store_; }     // only while no run() is in flight
    store::outbox_store& outbox_unsafe() { return outbox_; } // only while no outbox() is in flight

private:
    template <class F> boost::asio::awaitable<std::invoke_result_t<F&>> on_thread(F f)
    {
        using result_t = std::invoke_result_t<F&>;
        return boost::asio::co_spawn(
            pool_.get_executor(),
            [f = std::move(f)]() mutable -> boost::asio::awaitable<result_t> { co_return f(); },
            boost::asio::use_awaitable
        );
    }

    boost::asio::thread_pool pool_{1};
    std::unique_ptr<SQLite::Database> db_; // declared before store_: statements die first
    store::sync_store store_;
    store::outbox_store outbox_;
};

} // namespace ditio_sync::sync

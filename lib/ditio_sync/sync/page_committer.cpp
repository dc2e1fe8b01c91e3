#include <ditio_sync/store/database.hpp>
#include <ditio_sync/sync/page_committer.hpp>
#include <ditio_sync/util/asio.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ditio_sync::sync {

namespace asio = boost::asio;

// A commit on the database thread; shared with its completion handler, which may outlive the committer.
struct page_committer::pending {
    explicit pending(asio::any_io_executor ex) : done(ex, std::chrono::steady_clock::time_point::max()) {}
    asio::steady_timer done; // cancelled when an attempt is over
    bool finished = false;
    std::exception_ptr error;
    store::commit_result result;
    std::shared_ptr<const ditio::fetched_page> page; // kept alive until the commit is over
    page_transaction tx;                             // kept to try again when the database is busy
    std::chrono::steady_clock::time_point started;
    unsigned attempts = 0;
};

namespace {

// True for a lock held by another process beyond busy_timeout: worth waiting for, unlike a full disk.
bool is_busy(const std::exception_ptr& e)
{
    try {
        std::rethrow_exception(e);
    } catch (const store::db_error& err) {
        return err.kind() == store::db_failure::busy;
    } catch (...) {
        return false;
    }
}

std::string message_of(const std::exception_ptr& e)
{
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& err) {
        return err.what();
    } catch (...) {
        return "unknown error";
    }
}

} // namespace

page_committer::page_committer(
    db_worker& db,
    asio::any_io_executor io,
    const util::clock& clock,
    util::stop_source& stop,
    unsigned attempts,
    log::logger_ptr logger,
    std::string stream,
    std::int64_t run_id
)
    : db_(db), io_(std::move(io)), clock_(clock), stop_(stop), attempts_(attempts), log_(std::move(logger)),
      stream_(std::move(stream)), run_id_(run_id),
      busy_backoff_(
          std::chrono::milliseconds{200}, std::chrono::seconds{5}, static_cast<std::uint64_t>(run_id)
      )
{
}

page_committer::~page_committer() = default;

void page_committer::start(const std::shared_ptr<pending>& p)
{
    p->finished = false;
    p->error = nullptr;
    ++p->attempts;
    auto& db = db_;
    asio::co_spawn(
        db.executor(),
        [&db, p]() -> asio::awaitable<store::commit_result> {
            auto& store = db.store_unsafe();
            co_return p->tx.end ? store.finish_run(p->tx.page, *p->tx.end) : store.commit_page(p->tx.page);
        },
        asio::bind_executor(
            io_,
            [p](std::exception_ptr e, store::commit_result r) {
                p->error = e;
                p->result = r;
                p->finished = true;
                p->done.cancel();
            }
        )
    );
}

void page_committer::launch(std::shared_ptr<const ditio::fetched_page> page, page_transaction tx)
{
    pending_ = std::make_shared<pending>(io_);
    pending_->page = std::move(page);
    pending_->tx = std::move(tx);
    pending_->started = clock_.steady_now();
    start(pending_);
}

asio::awaitable<settled_commit> page_committer::settle()
{
    if (!pending_)
        co_return settled_commit{};
    for (;;) {
        while (!pending_->finished)
            co_await pending_->done.async_wait(util::use_nothrow);
        if (!pending_->error || !is_busy(pending_->error) || pending_->attempts >= attempts_)
            break;
        auto delay = busy_backoff_.delay(pending_->attempts);
        log::warn(
            log_,
            "store.busy_retry",
            {{"stream", stream_},
             {"run_id", run_id_},
             {"attempt", pending_->attempts},
             {"delay_ms", delay.count()}}
        );
        if (!co_await stop_.sleep_for(delay))
            break;
        start(pending_);
    }
    auto p = std::move(pending_);
    settled_commit out;
    out.page = p->page;
    out.result = p->result;
    out.took = clock_.steady_now() - p->started;
    if (p->error)
        out.error = message_of(p->error);
    co_return out;
}

} // namespace ditio_sync::sync

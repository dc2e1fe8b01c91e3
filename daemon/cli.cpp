// The command line: parsed with CLI11 into app::options, handed to one command (lib/ditio_sync/app), and
// the errors every command may throw mapped to exit codes.
#include "cli.hpp"

#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/http/error.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/util/redact.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace ditio_sync::app {

namespace {

struct push_commands {
    CLI::App* any;
    CLI::App* project;
    CLI::App* work_order;
};

push_commands add_push(CLI::App& cli, options& opt)
{
    auto* push_cmd =
        cli.add_subcommand("push", "send pending outbox rows (projects, work orders) to the Integration API");
    push_cmd->require_subcommand(0, 1);
    auto* push_project_cmd = push_cmd->add_subcommand("project", "add one project to the outbox and send it");
    push_project_cmd->add_option("--number", opt.push_number, "project number")->required();
    push_project_cmd->add_option("--name", opt.push_name, "project name")->required();
    push_project_cmd->add_option("--company", opt.push_company, "company id (default push.company_id)");
    push_project_cmd->add_flag("--inactive", opt.push_inactive, "the project is inactive");
    auto* push_work_order_cmd =
        push_cmd->add_subcommand("work-order", "add one work order to the outbox and send it");
    push_work_order_cmd->add_option("--project-number", opt.push_number, "its project's number")->required();
    push_work_order_cmd
        ->add_option("--external-id", opt.push_external_id, "work order id, unique in the project")
        ->required();
    push_work_order_cmd->add_option("--name", opt.push_name, "work order name")->required();
    push_work_order_cmd->add_option("--company", opt.push_company, "company id (default push.company_id)");
    push_work_order_cmd->add_flag("--inactive", opt.push_inactive, "the work order is inactive");
    return {push_cmd, push_project_cmd, push_work_order_cmd};
}

CLI::App* add_capture(CLI::App& cli, options& opt)
{
    auto* capture_cmd = cli.add_subcommand(
        "capture", "record the exchanges of a short sync into one file for support, secrets removed"
    );
    capture_cmd->add_option("streams", opt.sync_streams, "streams to capture (default: all enabled)");
    capture_cmd->add_option("--out", opt.capture_out, "the file to write")->required();
    capture_cmd->add_option("--pages", opt.capture_pages, "pages per stream (default 2)")
        ->check(CLI::PositiveNumber);
    capture_cmd->add_option("--chunk-limit", opt.capture_chunk_limit, "records per page (default 100)")
        ->check(CLI::Range(1, 10000));
    capture_cmd->add_flag(
        "--full", opt.sync_full, "capture a full sync's first pages, whatever the mirror holds"
    );
    return capture_cmd;
}

} // namespace

int run(int argc, char** argv)
{
    options opt;
    CLI::App cli{"ditio-sync: a SQLite mirror of Ditio data", "ditio-sync"};
    cli.set_version_flag("--version", std::string("ditio-sync ") + DITIO_SYNC_VERSION);
    cli.add_option(
        "--config", opt.config_file, "configuration file (default /etc/ditio-sync/ditio-sync.toml)"
    );
    cli.add_option("--log-level", opt.log_level, "trace, debug, info, warning, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}));
    cli.add_option("--log-format", opt.log_format, "json or text")->check(CLI::IsMember({"json", "text"}));
    cli.add_option(
        "--secret-file",
        opt.secret_file,
        "the client secret's file, or - to read it from standard input (wins over every other source)"
    );
    cli.require_subcommand(1);

    auto* run_cmd =
        cli.add_subcommand("run", "the daemon: schedule every enabled stream until SIGTERM/SIGINT");
    auto* sync_cmd = cli.add_subcommand("sync", "one pass now over the named (default: all enabled) streams");
    sync_cmd->add_option("streams", opt.sync_streams, "streams to sync");
    sync_cmd->add_flag("--full", opt.sync_full, "full re-sync; rows not returned are marked deleted");
    auto* status_cmd =
        cli.add_subcommand("status", "per stream: mode, watermark, rows, last run, last error");
    status_cmd->add_flag("--json", opt.status_json, "machine-readable output");
    status_cmd->add_option("streams", opt.status_streams, "streams to show in full");
    auto* check_cmd = cli.add_subcommand(
        "check", "a doctor: config, database, token, one cheap request per stream, clock, Integration API"
    );
    check_cmd->add_flag("--json", opt.check_json, "machine-readable output");
    check_cmd->add_flag(
        "--integrity",
        opt.check_thorough,
        "check every page of the database thoroughly (integrity_check; slower than the default quick_check)"
    );
    auto* migrate_cmd = cli.add_subcommand("migrate", "create or upgrade the database schema, then exit");
    auto* reset_cmd =
        cli.add_subcommand("reset", "forget a stream's watermark and checkpoint (next run is full)");
    reset_cmd->add_option("stream", opt.reset_stream, "stream to reset")->required();
    auto push = add_push(cli, opt);
    auto* capture_cmd = add_capture(cli, opt);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 says "A subcommand is required" for a misspelt command; name the word instead.
        if (cli.get_subcommands().empty() && !cli.remaining().empty() &&
            cli.remaining().front().front() != '-') {
            std::fprintf(
                stderr,
                "ditio-sync: unknown command '%s' (known: run, sync, status, check, migrate, reset, push, "
                "capture)\n",
                cli.remaining().front().c_str()
            );
            return exit_code::usage;
        }
        int rc = cli.exit(e);
        return rc == 0 ? exit_code::ok : exit_code::usage;
    }

    auto fail = [](log::event_name event, const std::string& what, int code) {
        log::error(log::get("app"), event, {{"error", what}, {"exit_code", code}});
        return code;
    };
    // Until the configuration is read, logging follows the command line and the terminal alone.
    setup_early_logging(opt);
    try {
        if (opt.secret_file == "-") {
            opt.secret_given = config::read_secret_stdin();
            util::secrets().add_secret(*opt.secret_given);
        }
        if (*run_cmd)
            return cmd_run(opt);
        if (*sync_cmd)
            return cmd_sync(opt);
        if (*status_cmd)
            return cmd_status(opt, std::cout);
        if (*check_cmd)
            return cmd_check(opt, std::cout);
        if (*migrate_cmd)
            return cmd_migrate(opt, std::cout);
        if (*reset_cmd)
            return cmd_reset(opt, std::cout);
        if (*capture_cmd)
            return cmd_capture(opt, std::cout);
        if (*push.any)
            return cmd_push(
                opt,
                *push.project      ? std::optional{store::outbox_kind::project}
                : *push.work_order ? std::optional{store::outbox_kind::work_order}
                                   : std::nullopt,
                std::cout
            );
    } catch (const config::config_error& e) {
        return fail("app.config_error", e.what(), exit_code::usage);
    } catch (const usage_error& e) {
        return fail("app.usage_error", e.what(), exit_code::usage);
    } catch (const http::setup_error& e) {
        return fail("app.config_error", e.what(), exit_code::usage);
    } catch (const store::db_error& e) {
        return fail("app.database_error", e.what(), exit_code::database);
    }
    return exit_code::usage;
}

} // namespace ditio_sync::app

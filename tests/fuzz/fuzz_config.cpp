// libFuzzer target for config::parse (TOML text -> typed configuration) and config::validate.
//
// Contract: bad input of any kind is reported as config_error, never as a crash or another exception.
// Only config_error is caught here; anything else propagates out of LLVMFuzzerTestOneInput and libFuzzer
// reports it as a crash (uncaught exception -> std::terminate -> abort). Every config_error must carry
// a message. A configuration that parses is validated both with and without credentials, which may
// again throw config_error only. Its [streams."<name>"] tables are then resolved against the stream
// catalogue: an accepted stream table yields a chunk limit in range and only catalogue parameters.
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/sync/stream_settings.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

namespace {

namespace cfg = ditio_sync::config;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_config: invariant violated: %s\n", what);
        __builtin_trap();
    }
}

void validate_checked(
    const cfg::config& c, std::span<const std::string_view> streams, cfg::need_credentials creds
)
{
    try {
        cfg::validate(c, streams, creds);
    } catch (const cfg::config_error& e) {
        check(*e.what() != '\0', "validate threw config_error without a message");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const std::vector<std::string_view> streams = ditio_sync::ditio::stream_names();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    cfg::config c;
    try {
        c = cfg::parse(text, "fuzz.toml");
    } catch (const cfg::config_error& e) {
        check(*e.what() != '\0', "parse threw config_error without a message");
        return 0;
    }
    validate_checked(c, streams, cfg::need_credentials::yes);
    validate_checked(c, streams, cfg::need_credentials::no);
    for (const auto& def : ditio_sync::ditio::catalogue()) {
        try {
            auto s = ditio_sync::sync::resolve_stream(c, def);
            check(s.chunk_limit >= 1 && s.chunk_limit <= 10000, "chunk_limit out of range");
            for (const auto& [name, value] : s.params) {
                bool known = false;
                for (auto params : {ditio_sync::ditio::common_params(), def.params})
                    for (const auto& p : params)
                        known = known || p.ditio_name == name;
                check(known, "a parameter not in the catalogue was sent");
            }
        } catch (const cfg::config_error& e) {
            check(*e.what() != '\0', "resolve_stream threw config_error without a message");
        }
    }
    return 0;
}

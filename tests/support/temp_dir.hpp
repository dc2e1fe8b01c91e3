// A unique directory under the system temp dir (TMPDIR), removed with everything in it when its owner ends.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ditio_sync::testing {

class temp_dir {
public:
    // Creates <temp dir>/<prefix><random>; a name that exists already is never reused (it may be another
    // test's). Throws when no new directory can be made.
    explicit temp_dir(std::string_view prefix = "ditio-sync-test-")
    {
        std::random_device rd;
        for (int attempt = 0; attempt < 100; ++attempt) {
            auto candidate = std::filesystem::temp_directory_path() /
                             (std::string(prefix) + std::to_string(rd()) + std::to_string(rd()));
            if (std::filesystem::create_directory(candidate)) {
                path_ = std::move(candidate);
                return;
            }
        }
        throw std::runtime_error("temp_dir: no free name for " + std::string(prefix));
    }
    ~temp_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Writes `content` to a file in the directory and returns its path.
    std::filesystem::path write(const std::string& name, const std::string& content) const
    {
        auto p = path_ / name;
        std::ofstream out(p, std::ios::binary);
        out << content;
        return p;
    }

private:
    std::filesystem::path path_;
};

} // namespace ditio_sync::testing

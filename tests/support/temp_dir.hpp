// A unique directory under the system temp dir for one test, removed with everything in it.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace ditio_sync::testing {

class temp_dir {
public:
    temp_dir()
    {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("ditio-sync-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
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

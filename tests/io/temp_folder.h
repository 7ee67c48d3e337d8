// A per-test temporary folder and small file writers for the io tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lathe/core/error.h"

namespace lathe::io::test {

namespace fs = std::filesystem;

class TempFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("lathe_io_" + std::to_string(::getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  // The path of a file to be written, its folders created.
  std::string new_file(const std::string& rel) const {
    fs::create_directories((dir_ / rel).parent_path());
    return path(rel);
  }
  void write(const std::string& rel, const std::string& bytes) const {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream f(path(rel), std::ios::binary);
    f << bytes;
  }
  std::string read(const std::string& rel) const {
    std::ifstream f(path(rel), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  }

  fs::path dir_;
};

// Runs `fn` and checks it throws lathe::Error whose message holds every needle.
template <class F>
void expect_error(F&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no lathe::Error thrown";
  } catch (const Error& e) {
    std::string m = e.what();
    for (const auto& n : needles)
      EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' not in: " << m;
  }
}

}  // namespace lathe::io::test

// CLI inputs read with a size limit that holds for regular files, pipes,
// FIFOs and devices (issue 11, item 8).
#include "common/bounded_read.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace coffer {
namespace {

using namespace std::chrono_literals;

class BoundedReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "coffer-read-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& data) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }
  std::string dir_;
};

TEST_F(BoundedReadTest, RegularFilesUpToTheLimit) {
  EXPECT_EQ(ReadBoundedFile(Write("a", "abc"), 3, "input").value(), "abc");
  EXPECT_EQ(ReadBoundedFile(Write("e", ""), 3, "input").value(), "");
  auto big = ReadBoundedFile(Write("b", "abcd"), 3, "input");
  EXPECT_EQ(big.status().code(), Code::kInvalidArgument);
  EXPECT_NE(big.status().message().find("limit of 3 bytes"), std::string::npos);
  EXPECT_EQ(ReadBoundedFile(dir_ + "/missing", 3, "input").status().code(), Code::kNotFound);
  EXPECT_EQ(ReadBoundedFile(dir_, 3, "input").status().code(), Code::kInvalidArgument);
}

// /dev/zero never ends: refused after limit+1 bytes, at once.
TEST_F(BoundedReadTest, EndlessDeviceIsRefusedAtTheLimit) {
  auto start = std::chrono::steady_clock::now();
  auto zero = ReadBoundedFile("/dev/zero", 1 << 20, "input");
  EXPECT_EQ(zero.status().code(), Code::kInvalidArgument);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// A FIFO nobody opens for writing: opening does not block, and the read
// gives up after the wait instead of hanging.
TEST_F(BoundedReadTest, FifoWithoutAWriterDoesNotHang) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  auto read = ReadBoundedFile(fifo, 1024, "input", 200ms);
  EXPECT_EQ(read.status().code(), Code::kUnavailable) << read.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// A FIFO whose writer comes late, writes and closes: its data.
TEST_F(BoundedReadTest, FifoWithAWriterIsRead) {
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);  // the reader is waiting (what is tested)
    int fd = ::open(fifo.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "hello", 5), 5);
    ::close(fd);
  });
  auto read = ReadBoundedFile(fifo, 1024, "input", 10s);
  writer.join();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, "hello");
}

// A pipe that carries more than the limit: refused without reading it all.
TEST_F(BoundedReadTest, PipeOverTheLimitIsRefused) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    std::string chunk(4096, 'x');
    // Until the reader closes its end (EPIPE, SIGPIPE ignored below) or 16 MiB.
    for (int i = 0; i < 4096; ++i) {
      if (::write(fds[1], chunk.data(), chunk.size()) <= 0) break;
    }
    ::close(fds[1]);
  });
  signal(SIGPIPE, SIG_IGN);
  auto read = ReadBoundedFile("/dev/fd/" + std::to_string(fds[0]), 64 * 1024, "input", 10s);
  ::close(fds[0]);
  writer.join();
  EXPECT_EQ(read.status().code(), Code::kInvalidArgument) << read.status().ToString();
}

}  // namespace
}  // namespace coffer

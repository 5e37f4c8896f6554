#include "node/net/framing.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace coffer::node {
namespace {

namespace test = boost::beast::test;
using boost::system::error_code;

constexpr size_t kMaxSteps = 10000;

std::string FrameHeader(uint32_t length) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(length >> 24);
  h[1] = static_cast<char>(length >> 16);
  h[2] = static_cast<char>(length >> 8);
  h[3] = static_cast<char>(length);
  return h;
}

TEST(FramingTest, EncodeIsBigEndianLengthThenPayload) {
  auto frame = EncodeFrame("abc");
  ASSERT_TRUE(frame.ok());
  EXPECT_EQ(*frame, std::string("\0\0\0\3abc", 7));

  std::string big(0x010203, 'x');
  auto big_frame = EncodeFrame(big);
  ASSERT_TRUE(big_frame.ok());
  EXPECT_EQ(big_frame->substr(0, 4), std::string("\0\x01\x02\x03", 4));
  EXPECT_EQ(big_frame->size(), 4 + big.size());
}

TEST(FramingTest, EncodeRejectsEmptyAndOversize) {
  EXPECT_EQ(EncodeFrame("").status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(EncodeFrame("12345", 5).ok());
  EXPECT_EQ(EncodeFrame("123456", 5).status().code(), Code::kResourceExhausted);
}

TEST(FramingTest, ParseHeader) {
  auto length = ParseFrameHeader(std::string("\x01\x02\x03\x04", 4), 0xffffffff);
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, 0x01020304u);
  EXPECT_EQ(*ParseFrameHeader(FrameHeader(100), 100), 100u);

  EXPECT_EQ(ParseFrameHeader(FrameHeader(0), 100).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseFrameHeader(FrameHeader(101), 100).status().code(), Code::kResourceExhausted);
  EXPECT_EQ(ParseFrameHeader(FrameHeader(0xffffffff), kDefaultMaxFrameBytes).status().code(),
            Code::kResourceExhausted);
  EXPECT_EQ(ParseFrameHeader("abc", 100).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseFrameHeader("abcde", 100).status().code(), Code::kInvalidArgument);
}

TEST(FramingTest, ErrorsMapToStatus) {
  EXPECT_TRUE(FrameErrorToStatus({}).ok());
  EXPECT_EQ(FrameErrorToStatus(FrameError::kFrameTooLarge).code(), Code::kResourceExhausted);
  EXPECT_EQ(FrameErrorToStatus(FrameError::kEmptyFrame).code(), Code::kInvalidArgument);
  EXPECT_EQ(FrameErrorToStatus(FrameError::kTruncatedFrame).code(), Code::kInvalidArgument);
  EXPECT_EQ(FrameErrorToStatus(boost::asio::error::eof).code(), Code::kUnavailable);
  EXPECT_EQ(FrameErrorToStatus(boost::asio::error::connection_reset).code(), Code::kUnavailable);
  EXPECT_TRUE(IsFrameProtocolError(FrameError::kTruncatedFrame));
  EXPECT_FALSE(IsFrameProtocolError(boost::asio::error::eof));
  EXPECT_TRUE(IsEndOfStream(boost::asio::error::eof));
  EXPECT_TRUE(IsEndOfStream(boost::asio::ssl::error::stream_truncated));
}

// Runs `ioc` until `done` or a deadline; returns whether `done` became true.
bool RunUntil(boost::asio::io_context& ioc, const std::function<bool()>& done) {
  ioc.restart();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (ioc.run_one_until(deadline) == 0 && ioc.stopped()) break;
  }
  return done();
}

struct ReadResult {
  error_code ec;
  size_t size = 0;
  std::string payload;
};

// Reads one frame from a stream whose input is `input` followed by EOF,
// delivering at most `read_size` bytes per read and failing the I/O step
// `fail_at` (none if nullopt).
std::optional<ReadResult> ReadFrom(const std::string& input, size_t max_frame_bytes,
                                   size_t read_size = 1 << 20,
                                   std::optional<size_t> fail_at = std::nullopt) {
  boost::asio::io_context ioc;
  std::optional<test::fail_count> fc;
  if (fail_at) fc.emplace(*fail_at);
  std::optional<test::stream> stream;
  if (fc) {
    stream.emplace(ioc, *fc, input);
  } else {
    stream.emplace(ioc, input);
  }
  stream->read_size(read_size);
  stream->close_remote();
  std::optional<ReadResult> result;
  std::string payload = "stale";
  AsyncReadFrame(*stream, payload, max_frame_bytes, [&](error_code ec, size_t size) {
    result = ReadResult{ec, size, payload};
  });
  RunUntil(ioc, [&] { return result.has_value(); });
  return result;
}

TEST(FramingTest, AsyncReadWholeFrame) {
  auto result = ReadFrom(*EncodeFrame("hello"), 100);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->ec) << result->ec.message();
  EXPECT_EQ(result->payload, "hello");
  EXPECT_EQ(result->size, 5u);
}

TEST(FramingTest, AsyncReadByteByByteAndLargerThanOneChunk) {
  auto one = ReadFrom(*EncodeFrame("hello"), 100, /*read_size=*/1);
  ASSERT_TRUE(one);
  EXPECT_FALSE(one->ec);
  EXPECT_EQ(one->payload, "hello");

  std::string big(3 * kFrameReadChunkBytes + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  auto large = ReadFrom(*EncodeFrame(big, big.size()), big.size(), 4096);
  ASSERT_TRUE(large);
  EXPECT_FALSE(large->ec);
  EXPECT_EQ(large->payload, big);
}

TEST(FramingTest, AsyncReadConsecutiveFramesFromOneStream) {
  boost::asio::io_context ioc;
  test::stream stream(ioc, *EncodeFrame("first") + *EncodeFrame("second"));
  stream.read_size(3);
  stream.close_remote();
  std::vector<std::string> got;
  error_code last;
  std::string payload;
  std::function<void()> read_next = [&] {
    AsyncReadFrame(stream, payload, 100, [&](error_code ec, size_t) {
      last = ec;
      if (ec) return;
      got.push_back(payload);
      read_next();
    });
  };
  read_next();
  ASSERT_TRUE(RunUntil(ioc, [&] { return last.failed(); }));
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second"}));
  // EOF between frames is a clean end of stream, not a protocol error.
  EXPECT_TRUE(IsEndOfStream(last)) << last.message();
  EXPECT_FALSE(IsFrameProtocolError(last));
}

TEST(FramingTest, AsyncReadProtocolErrors) {
  auto too_large = ReadFrom(FrameHeader(101) + std::string(101, 'x'), 100);
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->ec, make_error_code(FrameError::kFrameTooLarge));
  EXPECT_TRUE(too_large->payload.empty());

  auto empty = ReadFrom(FrameHeader(0), 100);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->ec, make_error_code(FrameError::kEmptyFrame));

  auto truncated_header = ReadFrom(std::string("\0\0", 2), 100);
  ASSERT_TRUE(truncated_header);
  EXPECT_EQ(truncated_header->ec, make_error_code(FrameError::kTruncatedFrame));

  auto truncated_body = ReadFrom(FrameHeader(10) + "abc", 100);
  ASSERT_TRUE(truncated_body);
  EXPECT_EQ(truncated_body->ec, make_error_code(FrameError::kTruncatedFrame));
  EXPECT_TRUE(truncated_body->payload.empty());

  auto nothing = ReadFrom("", 100);
  ASSERT_TRUE(nothing);
  EXPECT_EQ(nothing->ec, boost::asio::error::eof);
}

// Fails the read at every I/O step in turn: each failure must surface as the
// injected error (never a crash, a hang or a bogus payload) until n is large
// enough for the read to succeed.
TEST(FramingTest, AsyncReadFailsCleanlyAtEveryStep) {
  const std::string payload(100, 'p');
  const std::string frame = *EncodeFrame(payload);
  size_t n = 0;
  for (; n < kMaxSteps; ++n) {
    auto result = ReadFrom(frame, 1000, /*read_size=*/7, n);
    ASSERT_TRUE(result) << "read did not complete when failing at step " << n;
    if (!result->ec) {
      EXPECT_EQ(result->payload, payload);
      break;
    }
    EXPECT_EQ(result->ec, test::error::test_failure) << "step " << n;
    EXPECT_TRUE(result->payload.empty());
  }
  // 4 header bytes + 100 payload bytes at 7 bytes per read.
  EXPECT_GE(n, (4 + 100) / 7);
  EXPECT_LT(n, kMaxSteps);
}

TEST(FramingTest, AsyncWriteFailsCleanlyAtEveryStep) {
  const std::string frame = *EncodeFrame(std::string(100, 'w'));
  size_t n = 0;
  for (; n < kMaxSteps; ++n) {
    boost::asio::io_context ioc;
    test::fail_count fc(n);
    test::stream local(ioc, fc);
    test::stream remote(ioc);
    local.connect(remote);
    local.write_size(9);
    std::optional<error_code> result;
    AsyncWriteFrame(local, frame, [&](error_code ec, size_t) { result = ec; });
    ASSERT_TRUE(RunUntil(ioc, [&] { return result.has_value(); })) << "step " << n;
    if (!*result) {
      EXPECT_EQ(remote.str(), frame);
      break;
    }
    EXPECT_EQ(*result, test::error::test_failure) << "step " << n;
  }
  EXPECT_GE(n, frame.size() / 9);
  EXPECT_LT(n, kMaxSteps);
}

TEST(FramingTest, WriteThenReadRoundTrip) {
  boost::asio::io_context ioc;
  test::stream a(ioc);
  test::stream b(ioc);
  a.connect(b);
  a.write_size(5);
  b.read_size(3);
  const std::string frame = *EncodeFrame("round trip payload");
  std::optional<error_code> wrote;
  std::optional<error_code> read;
  std::string payload;
  AsyncWriteFrame(a, frame, [&](error_code ec, size_t) { wrote = ec; });
  AsyncReadFrame(b, payload, 100, [&](error_code ec, size_t) { read = ec; });
  ASSERT_TRUE(RunUntil(ioc, [&] { return wrote && read; }));
  EXPECT_FALSE(*wrote);
  EXPECT_FALSE(*read);
  EXPECT_EQ(payload, "round trip payload");
}

}  // namespace
}  // namespace coffer::node

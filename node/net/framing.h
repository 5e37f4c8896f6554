// Length-prefixed frames for the client API and the node transport.
//
// Wire format: a 4-byte big-endian payload length, then the payload. A frame
// carries exactly one serialized protobuf message. Length 0 is invalid (every
// message this protocol sends has at least one field set); a length above the
// reader's maximum is refused before any payload byte is buffered.
//
// The pure helpers (EncodeFrame, ParseFrameHeader) are thread-safe. The async
// operations follow Asio's rules: at most one read and one write outstanding
// per stream, started from the stream's strand.
#pragma once

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/status.h"

namespace coffer::node {
// Protocol violations reported by AsyncReadFrame, in their own error category
// so callers can tell them from I/O errors.
enum class FrameError {
  kEmptyFrame = 1,      // header announced length 0
  kFrameTooLarge = 2,   // header announced more than the maximum
  kTruncatedFrame = 3,  // the stream ended inside a frame
};

}  // namespace coffer::node

namespace boost::system {
template <>
struct is_error_code_enum<coffer::node::FrameError> : std::true_type {};
}  // namespace boost::system

namespace coffer::node {

inline constexpr size_t kFrameHeaderBytes = 4;
// Default: 4 MiB.
inline constexpr size_t kDefaultMaxFrameBytes = size_t{4} << 20;
// The reader grows its buffer by at most this much per read, so a header that
// announces a large frame costs memory only as its bytes actually arrive.
inline constexpr size_t kFrameReadChunkBytes = size_t{64} << 10;

// Returns the header followed by `payload`. INVALID_ARGUMENT for an empty
// payload, RESOURCE_EXHAUSTED if it is longer than `max_frame_bytes`.
StatusOr<std::string> EncodeFrame(std::string_view payload,
                                  size_t max_frame_bytes = kDefaultMaxFrameBytes);

// Parses a frame header (exactly kFrameHeaderBytes bytes) into the payload
// length. INVALID_ARGUMENT for a header of the wrong size or a zero length,
// RESOURCE_EXHAUSTED for a length above `max_frame_bytes`.
StatusOr<uint32_t> ParseFrameHeader(std::string_view header, size_t max_frame_bytes);

const boost::system::error_category& FrameErrorCategory();
boost::system::error_code make_error_code(FrameError e);  // NOLINT: ADL hook for Boost.System

// True for errors of FrameErrorCategory: the peer broke the protocol.
bool IsFrameProtocolError(const boost::system::error_code& ec);

// True if the stream ended (EOF, or TLS without close_notify) rather than failed.
bool IsEndOfStream(const boost::system::error_code& ec);

// Maps an AsyncReadFrame/AsyncWriteFrame error to a Status: RESOURCE_EXHAUSTED
// for kFrameTooLarge, INVALID_ARGUMENT for the other protocol violations,
// UNAVAILABLE for I/O errors and end of stream.
Status FrameErrorToStatus(const boost::system::error_code& ec);

namespace internal {

template <typename Stream>
class ReadFrameOp {
 public:
  ReadFrameOp(Stream& stream, std::string& payload, size_t max_frame_bytes)
      : stream_(stream), payload_(payload), max_frame_bytes_(max_frame_bytes) {}

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t transferred = 0) {
    switch (state_) {
      case State::kStart:
        state_ = State::kHeader;
        payload_.resize(kFrameHeaderBytes);
        boost::asio::async_read(stream_, boost::asio::buffer(payload_.data(), kFrameHeaderBytes),
                                std::move(self));
        return;
      case State::kHeader: {
        if (ec) {
          // The end of the stream between frames is a clean close; inside a
          // header it is a truncated frame.
          if (transferred > 0 && IsEndOfStream(ec)) ec = FrameError::kTruncatedFrame;
          return Fail(self, ec);
        }
        StatusOr<uint32_t> length = ParseFrameHeader(payload_, max_frame_bytes_);
        if (!length.ok()) {
          return Fail(self, make_error_code(length.status().code() == Code::kResourceExhausted
                                                ? FrameError::kFrameTooLarge
                                                : FrameError::kEmptyFrame));
        }
        length_ = *length;
        payload_.clear();
        state_ = State::kBody;
        return ReadChunk(self);
      }
      case State::kBody:
        if (ec) {
          return Fail(self, IsEndOfStream(ec) ? make_error_code(FrameError::kTruncatedFrame) : ec);
        }
        if (payload_.size() == length_) return self.complete(ec, payload_.size());
        return ReadChunk(self);
    }
  }

 private:
  enum class State { kStart, kHeader, kBody };

  template <typename Self>
  void ReadChunk(Self& self) {
    size_t have = payload_.size();
    size_t chunk = std::min<size_t>(length_ - have, kFrameReadChunkBytes);
    payload_.resize(have + chunk);
    boost::asio::async_read(stream_, boost::asio::buffer(payload_.data() + have, chunk),
                            std::move(self));
  }

  template <typename Self>
  void Fail(Self& self, boost::system::error_code ec) {
    payload_.clear();
    self.complete(ec, 0);
  }

  Stream& stream_;
  std::string& payload_;
  size_t max_frame_bytes_;
  State state_ = State::kStart;
  size_t length_ = 0;
};

}  // namespace internal

// Reads one frame from `stream` into `payload` (replacing its contents) and
// completes with (error_code, payload size). `stream` and `payload` must stay
// valid until completion. Errors: a FrameError (the peer broke the protocol:
// the connection must be closed), an end-of-stream error before the first
// header byte (clean close, see IsEndOfStream), or the stream's I/O error. On
// error `payload` is empty. Works over any AsyncReadStream; completion runs on
// the handler's associated executor (by default the stream's).
template <typename AsyncReadStream, typename CompletionToken>
auto AsyncReadFrame(AsyncReadStream& stream, std::string& payload, size_t max_frame_bytes,
                    CompletionToken&& token) {
  return boost::asio::async_compose<CompletionToken, void(boost::system::error_code, std::size_t)>(
      internal::ReadFrameOp<AsyncReadStream>(stream, payload, max_frame_bytes), token, stream);
}

// Writes `frame`, which must come from EncodeFrame and stay valid until
// completion, and completes with (error_code, bytes written).
template <typename AsyncWriteStream, typename CompletionToken>
auto AsyncWriteFrame(AsyncWriteStream& stream, const std::string& frame, CompletionToken&& token) {
  return boost::asio::async_write(stream, boost::asio::buffer(frame),
                                  std::forward<CompletionToken>(token));
}

}  // namespace coffer::node

#include "node/net/framing.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <limits>

namespace coffer::node {
namespace {

class FrameErrorCategoryImpl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "coffer.frame"; }
  std::string message(int ev) const override {
    switch (static_cast<FrameError>(ev)) {
      case FrameError::kEmptyFrame:
        return "frame with length 0";
      case FrameError::kFrameTooLarge:
        return "frame larger than the maximum frame size";
      case FrameError::kTruncatedFrame:
        return "stream ended inside a frame";
    }
    return "unknown frame error";
  }
};

}  // namespace

const boost::system::error_category& FrameErrorCategory() {
  static const FrameErrorCategoryImpl category;
  return category;
}

boost::system::error_code make_error_code(FrameError e) {
  return {static_cast<int>(e), FrameErrorCategory()};
}

bool IsFrameProtocolError(const boost::system::error_code& ec) {
  return ec.category() == FrameErrorCategory();
}

bool IsEndOfStream(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
}

Status FrameErrorToStatus(const boost::system::error_code& ec) {
  if (!ec) return Status::Ok();
  if (ec == FrameError::kFrameTooLarge) return ResourceExhausted(ec.message());
  if (IsFrameProtocolError(ec)) return InvalidArgument(ec.message());
  if (IsEndOfStream(ec)) return Unavailable("connection closed by peer");
  return Unavailable(ec.message());
}

StatusOr<std::string> EncodeFrame(std::string_view payload, size_t max_frame_bytes) {
  if (payload.empty()) return InvalidArgument("cannot send an empty frame");
  if (payload.size() > max_frame_bytes || payload.size() > std::numeric_limits<uint32_t>::max()) {
    return ResourceExhausted("message of " + std::to_string(payload.size()) +
                             " bytes exceeds the maximum frame size of " +
                             std::to_string(max_frame_bytes) + " bytes");
  }
  auto length = static_cast<uint32_t>(payload.size());
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  frame.push_back(static_cast<char>((length >> 24) & 0xff));
  frame.push_back(static_cast<char>((length >> 16) & 0xff));
  frame.push_back(static_cast<char>((length >> 8) & 0xff));
  frame.push_back(static_cast<char>(length & 0xff));
  frame.append(payload);
  return frame;
}

StatusOr<uint32_t> ParseFrameHeader(std::string_view header, size_t max_frame_bytes) {
  if (header.size() != kFrameHeaderBytes) {
    return InvalidArgument("frame header must be " + std::to_string(kFrameHeaderBytes) +
                           " bytes, got " + std::to_string(header.size()));
  }
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(header[i])); };
  uint32_t length = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  if (length == 0) return InvalidArgument("frame with length 0");
  if (length > max_frame_bytes) {
    return ResourceExhausted("frame of " + std::to_string(length) +
                             " bytes exceeds the maximum frame size of " +
                             std::to_string(max_frame_bytes) + " bytes");
  }
  return length;
}

}  // namespace coffer::node

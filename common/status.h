// Status and StatusOr: expected failures are values, never exceptions.
//
// Codes are the stable error codes of the behavioural contract (semantics.md
// section 8). They are chosen by what the caller should do next: retry, fail
// over, fix the input, or call an operator. The string names (CodeName) appear
// on the wire and in CLI output and never change.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coffer {

enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,     // fix the input
  kNotFound = 2,            // the named thing does not exist
  kAlreadyExists = 3,       // a unique name or id is taken
  kInvalidState = 4,        // the object's state forbids the operation
  kPermissionDenied = 5,    // the caller may not do this
  kReadOnlyRestricted = 6,  // read-write node without its peer: fail over
  kReadOnlyNode = 7,        // read-only node: send critical writes elsewhere
  kOutcomeUnknown = 8,      // retry with the same request id
  kUnavailable = 9,         // transient: retry or fail over
  kFeatureNotActive = 10,   // cluster version too low for the feature
  kIncompatibleVersion = 11,
  kDisableExpired = 12,
  kUpgradeInProgress = 13,
  kPrecheckFailed = 14,
  kDataLoss = 15,           // integrity failure: never served
  kResourceExhausted = 16,  // disk full, too large, queue full
  kInternal = 17,           // a bug: report it
};

// Stable upper-case name, e.g. "INVALID_STATE".
std::string_view CodeName(Code code);
// Parses a CodeName back; returns kInternal for unknown names.
Code CodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message" or "OK".
  std::string ToString() const;

  // Prepends context to the message, keeping the code.
  Status Annotate(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status InvalidState(std::string m) { return {Code::kInvalidState, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : value_(status) { assert(!status.ok()); }  // NOLINT
  StatusOr(Status&& status) : value_(std::move(status)) {                    // NOLINT
    assert(!std::get<Status>(value_).ok());
  }
  StatusOr(const T& value) : value_(value) {}        // NOLINT
  StatusOr(T&& value) : value_(std::move(value)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(value_); }

  const T& value() const& { return std::get<T>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<Status, T> value_;
};

}  // namespace coffer

#define COFFER_CONCAT_INNER_(a, b) a##b
#define COFFER_CONCAT_(a, b) COFFER_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if it is not OK.
#define COFFER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::coffer::Status coffer_status_ = (expr);        \
    if (!coffer_status_.ok()) return coffer_status_; \
  } while (0)

// `COFFER_ASSIGN_OR_RETURN(auto x, MakeX());`
#define COFFER_ASSIGN_OR_RETURN(lhs, expr) \
  COFFER_ASSIGN_OR_RETURN_IMPL_(COFFER_CONCAT_(coffer_statusor_, __LINE__), lhs, expr)
#define COFFER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

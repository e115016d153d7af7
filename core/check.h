// One check-macro family. A failed check throws a t2::Error (or a chosen subclass) whose message
// carries file:line, the failed expression and a formatted explanation with the values involved:
//
//   T2_CHECK(n > 0, "batch size must be positive, got {}", n);
//   T2_CHECK_AS(t2::FormatError, off <= size, "{}: tensor '{}' ends at byte {} past the file end {}",
//               path, name, off, size);
//   T2_FAIL("unknown dtype '{}'", s);
//   T2_CHECK_ERRNO(fd >= 0, "open {}", path);   // appends strerror(errno)
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/error.h"

namespace t2::detail {

std::string check_location(const char* file, int line, const char* expr);

template <typename E, typename... Args>
[[noreturn]] void check_failed(const char* file, int line, const char* expr,
                               fmt::format_string<Args...> f, Args&&... args) {
  throw E(fmt::format(f, std::forward<Args>(args)...) + check_location(file, line, expr));
}

template <typename E>
[[noreturn]] void check_failed(const char* file, int line, const char* expr) {
  throw E(std::string("check failed") + check_location(file, line, expr));
}

}  // namespace t2::detail

#define T2_CHECK_AS(ErrType, cond, ...)                                                   \
  do {                                                                                    \
    if (!(cond)) ::t2::detail::check_failed<ErrType>(__FILE__, __LINE__, #cond, ##__VA_ARGS__); \
  } while (0)

#define T2_CHECK(cond, ...) T2_CHECK_AS(::t2::Error, cond, ##__VA_ARGS__)

#define T2_FAIL(...) ::t2::detail::check_failed<::t2::Error>(__FILE__, __LINE__, nullptr, __VA_ARGS__)
#define T2_FAIL_AS(ErrType, ...) ::t2::detail::check_failed<ErrType>(__FILE__, __LINE__, nullptr, __VA_ARGS__)

#define T2_CHECK_ERRNO(cond, ...)                                                                  \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      const int t2_errno_ = errno;                                                                 \
      throw ::t2::Error(fmt::format(__VA_ARGS__) + ": " + std::strerror(t2_errno_) +                \
                        ::t2::detail::check_location(__FILE__, __LINE__, #cond));                  \
    }                                                                                              \
  } while (0)

// A minimal std::expected stand-in (g++ 12 has no <expected>): a value or a typed error.
#pragma once

#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace captain {

// The error side of an Expected, spelled like std::unexpected so a later switch to C++23 is a
// rename.
template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}

  const E& error() const& noexcept { return error_; }
  E&& error() && noexcept { return std::move(error_); }

 private:
  E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

// Reading the wrong side is a programming error, hence an exception rather than a result.
class BadExpectedAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Either a T or an E; expected failures travel as values, never as exceptions.
template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  Expected(Unexpected<G> error) : storage_(std::in_place_index<1>, std::move(error).error()) {}

  bool has_value() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check_value();
    return std::get<0>(storage_);
  }
  const T& value() const& {
    check_value();
    return std::get<0>(storage_);
  }
  T&& value() && {
    check_value();
    return std::get<0>(std::move(storage_));
  }
  const E& error() const& {
    check_error();
    return std::get<1>(storage_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void check_value() const {
    if (!has_value()) throw BadExpectedAccess("Expected: value() on an error");
  }
  void check_error() const {
    if (has_value()) throw BadExpectedAccess("Expected: error() on a value");
  }

  // Indexed, not typed, so T and E may be the same type.
  std::variant<T, E> storage_;
};

// Success without a value, or an E.
template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  template <class G>
  Expected(Unexpected<G> error) : error_(std::move(error).error()) {}

  bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  const E& error() const& {
    if (has_value()) throw BadExpectedAccess("Expected: error() on a value");
    return *error_;
  }

 private:
  std::optional<E> error_;
};

}  // namespace captain

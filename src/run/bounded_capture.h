// BoundedCapture: the bytes a handler reads from a program or a server, kept up to a bound while the
// rest is only counted, so a job that prints gigabytes costs rowsched a fixed amount of memory and
// the user still learns how much was cut.
//
// Thread safety: none; one capture belongs to one run.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace rowsched::run {

class BoundedCapture {
 public:
  explicit BoundedCapture(size_t limit) : limit_(limit) {}

  void append(std::string_view bytes) {
    total_ += bytes.size();
    if (kept_.size() < limit_) kept_.append(bytes.substr(0, limit_ - kept_.size()));
  }
  // True once `limit` bytes are kept: more input is only counted.
  bool full() const { return kept_.size() >= limit_; }
  size_t total() const { return total_; }
  bool empty() const { return total_ == 0; }

  // The kept text; when bytes were dropped it is cut (at a UTF-8 boundary) so that the text and a
  // note saying how much is missing together fit in `limit` bytes.
  std::string text() const {
    if (total_ <= limit_) return kept_;
    constexpr size_t kNoteRoom = 64;
    size_t cut = limit_ > kNoteRoom ? limit_ - kNoteRoom : 0;
    while (cut > 0 && (static_cast<unsigned char>(kept_[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    return kept_.substr(0, cut) + "\n[... " + std::to_string(total_ - cut) + " more bytes not kept]";
  }

 private:
  size_t limit_;
  size_t total_ = 0;
  std::string kept_;
};

}  // namespace rowsched::run

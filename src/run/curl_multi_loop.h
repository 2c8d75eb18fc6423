// One thread that drives every HTTP transfer of the `http` handler through libcurl's multi interface,
// so that a thousand requests due at one instant are a thousand transfers in flight, not a thousand
// threads nor a thousand requests one after another on the executor threads.
//
// Thread safety: add() may be called from any thread, including from a `done` callback (which runs on
// the loop's thread: it must not block).
#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>

#include "base/time.h"

namespace rowsched::run {

class CurlMultiLoop {
 public:
  // Called once the transfer ended with libcurl's result; the easy handle is cleaned up after it.
  using Done = std::function<void(CURL* easy, CURLcode result)>;

  CurlMultiLoop();
  // Aborts the transfers in flight (their `done` is not called) and joins the thread.
  ~CurlMultiLoop();
  CurlMultiLoop(const CurlMultiLoop&) = delete;
  CurlMultiLoop& operator=(const CurlMultiLoop&) = delete;

  // Takes `easy` (configured, not yet started) and starts it at `not_before` (wall clock) or at once.
  void add(CURL* easy, TimePoint not_before, Done done);

  // The loop shared by every http handler of this process, started on first use.
  static CurlMultiLoop& shared();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rowsched::run

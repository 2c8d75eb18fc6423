#include "run/curl_multi_loop.h"

#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "base/start_priority.h"

namespace rowsched::run {

struct CurlMultiLoop::Impl {
  struct Pending {
    CURL* easy = nullptr;
    TimePoint not_before{};
    Done done;
  };

  CURLM* multi = nullptr;
  std::mutex mu;
  std::deque<Pending> pending;  // added, not yet in `multi`
  bool stopping = false;
  std::map<CURL*, Done> running;  // owned by the loop's thread
  std::thread thread;

  void loop() {
    base::enter_start_thread("rowsched-http");
    for (;;) {
      const TimePoint now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
      Duration wait = std::chrono::seconds(1);
      {
        std::lock_guard lock(mu);
        if (stopping) return;
        for (auto it = pending.begin(); it != pending.end();) {
          if (it->not_before <= now) {
            curl_multi_add_handle(multi, it->easy);
            running.emplace(it->easy, std::move(it->done));
            it = pending.erase(it);
          } else {
            wait = std::min(wait, it->not_before - now);
            ++it;
          }
        }
      }
      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* easy = msg->easy_handle;
        const CURLcode result = msg->data.result;
        curl_multi_remove_handle(multi, easy);
        auto it = running.find(easy);
        Done done = std::move(it->second);
        running.erase(it);
        try {
          done(easy, result);
        } catch (const std::exception& e) {
          spdlog::error("http transfer: {}", e.what());
        }
        curl_easy_cleanup(easy);
      }
      // curl_multi_poll waits in whole milliseconds: the loop waits those there and sleeps the last
      // fraction before a request's instant to the microsecond (the transfers in flight wait that
      // long at most), so a request starts on time rather than up to 1 ms late.
      if (wait < std::chrono::milliseconds(1)) {
        if (wait > Duration::zero()) std::this_thread::sleep_for(wait);
        continue;
      }
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()),
                      nullptr);
    }
  }
};

CurlMultiLoop::CurlMultiLoop() : impl_(std::make_unique<Impl>()) {
  impl_->multi = curl_multi_init();
  if (!impl_->multi) throw std::runtime_error("curl_multi_init failed");
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

CurlMultiLoop::~CurlMultiLoop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  for (auto& [easy, done] : impl_->running) {
    curl_multi_remove_handle(impl_->multi, easy);
    curl_easy_cleanup(easy);
  }
  for (auto& p : impl_->pending) curl_easy_cleanup(p.easy);
  curl_multi_cleanup(impl_->multi);
}

void CurlMultiLoop::add(CURL* easy, TimePoint not_before, Done done) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending.push_back(Impl::Pending{easy, not_before, std::move(done)});
  }
  curl_multi_wakeup(impl_->multi);
}

CurlMultiLoop& CurlMultiLoop::shared() {
  static CurlMultiLoop loop;
  return loop;
}

}  // namespace rowsched::run

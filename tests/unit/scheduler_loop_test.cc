// The scheduler loop's decisions, driven against in-memory parts and a fake clock (loop_fakes.h):
// how it retries a database that refuses it, what one bad row does to the others, how a change
// whose notification was lost is found, and what SIGTERM does to runs in flight.
#include <catch2/catch.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/cpu_wake_latency.h"
#include "loop_fakes.h"

using namespace rowsched;
using namespace rowsched::daemon;
using namespace rowsched::daemon::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// A loop on fakes; the fakes stay reachable through raw pointers (the loop owns them).
struct Harness {
  FakeClock clock;
  Metrics metrics;
  FakeStore* store = nullptr;
  FakeBookkeeping* writer = nullptr;
  FakeRuns* runs = nullptr;
  FakeWaiter* waiter = nullptr;
  std::unique_ptr<SchedulerLoop> loop;
  std::vector<std::pair<TimePoint, bool>> cpu_wake;  // each hold (true) and drop of the CPU wake-up request

  explicit Harness(Options options = {}, std::optional<std::string> throw_on_apply = std::nullopt) {
    spdlog::set_level(spdlog::level::warn);  // the loop's info lines would bury the test report
    LoopParts p;
    auto s = std::make_unique<FakeStore>(clock);
    auto w = std::make_unique<FakeBookkeeping>();
    auto r = std::make_unique<FakeRuns>(clock);
    auto wt = std::make_unique<FakeWaiter>(clock);
    store = s.get();
    writer = w.get();
    runs = r.get();
    waiter = wt.get();
    p.store = std::move(s);
    p.writer = std::move(w);
    p.runs = std::move(r);
    p.waiter = std::move(wt);
    p.clock = [this] { return clock.now; };
    p.host = "testhost";
    p.instance = "test";
    p.jitter = [] { return 0.5; };  // every wait exactly its step
    p.throw_on_apply = std::move(throw_on_apply);
    p.hold_cpu_wake = [this](bool want) { cpu_wake.emplace_back(clock.now, want); };
    loop = std::make_unique<SchedulerLoop>(options, "", metrics, run::HandlerRegistry::with_builtins(), std::move(p));
  }
  ~Harness() { spdlog::set_level(spdlog::level::info); }

  // A `log` job firing every `every_s` seconds from the current fake instant.
  void add_job(const std::string& id, int every_s, int64_t version = 1) {
    store::JobRow row;
    row.job_id = id;
    row.func = "log";
    row.func_args = R"(["hello"])";
    row.trigger_kwargs = R"({"trigger":"interval","seconds":)" + std::to_string(every_s) + "}";
    row.owner = "tester";
    row.version = version;
    row.version_hash = std::hash<std::string>{}(id) * 31 + static_cast<uint64_t>(version);
    row.update_time = row.trigger_time = row.active_time = clock.now;
    row.state = "pending";
    store->table[id] = row;
  }

  // `n` jobs every second, their fires spread over the second (n fires/s, 1/n s apart), from the
  // next whole second; that second.
  TimePoint add_dense_jobs(int n) {
    const TimePoint start = TimePoint{} + std::chrono::ceil<seconds>(clock.now.time_since_epoch()) + seconds(1);
    for (int i = 0; i < n; ++i) {
      const std::string id = "s" + std::to_string(i);
      add_job(id, 1);
      store->table[id].trigger_kwargs = R"({"trigger":"interval","seconds":1,"start_date":")" +
                                        format_rfc3339(start + std::chrono::microseconds(1000000 / n) * i) + R"("})";
    }
    return start;
  }

  // tick() and wait as run() does, for `d` of fake time (at most FakeWaiter::kMaxWaits ticks), no shutdown;
  // woken at least every `woken_every` (as run outcomes and notifications wake the real loop).
  void tick_for(Duration d, Duration woken_every = Duration::max()) {
    const TimePoint end = clock.now + d;
    for (int i = 0; i < FakeWaiter::kMaxWaits && clock.now < end; ++i)
      clock.now += std::min({loop->tick(clock.now), woken_every, end - clock.now});
  }

  // Runs the loop (run(), as the daemon does) until SIGTERM at `stop_after` from now; its exit code.
  int run_for(Duration stop_after) {
    waiter->signal_at = clock.now + stop_after;
    return loop->run();
  }

  size_t runs_of(const std::string& job_id) const {
    return static_cast<size_t>(std::count_if(runs->submitted.begin(), runs->submitted.end(), [&](auto& r) { return r.job_id == job_id; }));
  }
};

}  // namespace

TEST_CASE("A database that refuses connections is retried with doubling waits, a dozen times a minute, not in a busy loop",
          "[scheduler_loop]") {
  Harness h;
  h.store->refuse_connects = 1000;
  const TimePoint start = h.clock.now;
  h.tick_for(seconds(60));

  const auto& attempts = h.store->connect_attempts;
  INFO("connect attempts in one fake minute: " << attempts.size());
  REQUIRE(attempts.size() >= 2);
  // 0.1 + 0.2 + ... + 6.4 s, then every 10 s: 12 attempts in the minute (the backoff policy of backoff.h).
  CHECK(attempts.size() <= 15);
  std::vector<Duration> gaps;
  for (size_t i = 1; i < attempts.size(); ++i) gaps.push_back(attempts[i] - attempts[i - 1]);
  const std::vector<Duration> expected{milliseconds(100), milliseconds(200), milliseconds(400), milliseconds(800),
                                       milliseconds(1600), milliseconds(3200), milliseconds(6400), seconds(10)};
  for (size_t i = 0; i < gaps.size(); ++i) {
    INFO("wait before attempt " << i + 2);
    REQUIRE(gaps[i] == expected[std::min(i, expected.size() - 1)]);
  }
  CHECK(attempts.front() == start);
  REQUIRE(h.metrics.readiness.not_ready_reason());
  CHECK(h.metrics.readiness.not_ready_reason()->find("connection refused") != std::string::npos);
}

TEST_CASE("Once the database accepts the connection again, the loop loads the jobs and fires them", "[scheduler_loop]") {
  Harness h;
  h.add_job("every-second", 1);
  h.store->refuse_connects = 3;  // 0.1 + 0.2 + 0.4 s of backoff
  h.run_for(milliseconds(3500));
  CHECK(h.store->connect_attempts.size() == 4);
  CHECK(h.runs_of("every-second") >= 2);
  CHECK(h.metrics.readiness.not_ready_reason() == std::optional<std::string>("shutting down"));
}

TEST_CASE("A row that throws while being applied is invalid with the reason, and the other jobs still fire", "[scheduler_loop]") {
  Harness h({}, std::string("bad"));
  h.add_job("bad", 1);
  h.add_job("good", 1);
  h.run_for(milliseconds(2500));

  const auto bad = h.writer->last_update("bad");
  REQUIRE(bad);
  CHECK(bad->state == "invalid");
  CHECK(bad->last_error.value_or("").find("rowsched could not apply this row") != std::string::npos);
  CHECK_FALSE(bad->is_running);
  CHECK(h.runs_of("bad") == 0);
  CHECK(h.runs_of("good") == 2);
  CHECK(h.store->connect_attempts.size() == 1);  // one bad row does not reconnect
}

TEST_CASE("A change whose notification never arrived is found by the resync fingerprint and applied", "[scheduler_loop]") {
  Options o;
  o.resync_interval = 5;
  Harness h(o);
  h.add_job("changed", 3600);
  REQUIRE(h.loop->tick(h.clock.now) >= Duration::zero());
  REQUIRE(h.writer->last_update("changed"));
  CHECK(h.writer->last_update("changed")->version == 1);

  // Behind the loop's back: a new version of one job and a new job, with no notification.
  h.add_job("changed", 1, 2);
  h.add_job("added", 1);
  h.clock.now += seconds(4);
  h.loop->tick(h.clock.now);
  CHECK(h.writer->last_update("changed")->version == 1);  // not yet: the resync is every 5 s

  h.run_for(seconds(3));
  CHECK(h.writer->last_update("changed")->version == 2);
  REQUIRE(h.writer->last_update("added"));
  CHECK(h.writer->last_update("added")->state == "scheduled");
  CHECK(h.runs_of("added") >= 1);
  CHECK(h.runs_of("changed") >= 1);  // the new version's 1 s interval applies
}

TEST_CASE("On SIGTERM the loop stops claiming, lets running runs finish, records the queued ones as not run, and clears is_running",
          "[scheduler_loop]") {
  Options o;
  o.shutdown_timeout = 30;
  Harness h(o);
  h.runs->threads = 1;
  h.runs->run_takes = seconds(20);  // ends within the shutdown deadline
  h.add_job("slow", 1);
  const TimePoint sigterm = h.clock.now + milliseconds(3500);
  const int code = h.run_for(milliseconds(3500));
  const TimePoint signalled = h.clock.now;

  CHECK(code == 0);
  // Fires at 1, 2 and 3 s: the first runs, two wait for the only thread.
  REQUIRE(h.store->claimed.size() == 3);
  CHECK(std::all_of(h.store->claimed.begin(), h.store->claimed.end(), [&](auto& c) { return c.scheduled_for <= signalled; }));
  REQUIRE(h.writer->records.size() == 3);
  CHECK(h.writer->records[0].status == "succeeded");
  CHECK(h.writer->records[0].run_id == 1);
  for (size_t i = 1; i < 3; ++i) {
    CHECK(h.writer->records[i].status == "failed");
    CHECK(h.writer->records[i].error == "rowsched shut down before this run started");
  }
  CHECK(h.store->cleared_is_running);
  CHECK(h.store->deregistered);
  CHECK_FALSE(h.runs->abandoned);
  // The CPU wake-up request (--cpu-wake-latency) goes once the claimed fires' instants have passed,
  // not when the running run ends, 20 s on.
  REQUIRE(signalled - sigterm >= seconds(15));
  REQUIRE(!h.cpu_wake.empty());
  CHECK_FALSE(h.cpu_wake.back().second);
  CHECK(h.cpu_wake.back().first - sigterm < seconds(1));
}

TEST_CASE("A run still inside its handler at the shutdown deadline is abandoned, the rest recorded as before", "[scheduler_loop]") {
  Options o;
  o.shutdown_timeout = 5;
  Harness h(o);
  h.runs->run_takes = seconds(60);
  h.add_job("endless", 3600);
  h.store->table["endless"].run_right_now = true;
  h.store->table["endless"].run_right_now_at = h.clock.now;
  CHECK(h.run_for(seconds(1)) == 0);
  CHECK(h.runs_of("endless") == 1);
  CHECK(h.runs->abandoned);
  CHECK(h.store->cleared_is_running);
}

TEST_CASE("Fires due at one instant are claimed ahead of it, by the claim lead's horizon for the burst", "[scheduler_loop]") {
  Harness h;
  for (int i = 0; i < 100; ++i) {
    h.add_job("b" + std::to_string(i), 5);
    h.store->table["b" + std::to_string(i)].trigger_kwargs = R"({"trigger":"cron","second":"*/5"})";
  }
  h.store->claim_takes_per_fire = std::chrono::microseconds(50);
  h.tick_for(seconds(12));
  REQUIRE(h.store->claimed_at.size() >= 2);
  for (const TimePoint at : h.store->claimed_at) {
    if (at == h.store->connect_attempts.front()) continue;  // the fires due at start-up
    const auto ahead = (TimePoint{} + std::chrono::ceil<seconds>(at.time_since_epoch())) - at;
    INFO("claimed " << (ahead / std::chrono::microseconds(1)) << " us ahead");
    CHECK(ahead == milliseconds(300));  // ClaimLead::kWarmLead: 100 fires x 50 us x 1.5 is less
  }
}

TEST_CASE("A fire the loop sleeps before is expected once, with its job and owner, before it is claimed", "[scheduler_loop]") {
  // The runs learn of the next fire while the loop waits for it (an owner's session logs in ahead);
  // once per instant however often the loop is woken, and only for fires not yet claimed.
  Harness h;
  const Duration woken_every = GENERATE(Duration::max(), Duration(milliseconds(7)));
  h.add_job("sparse", 10);
  h.add_job("other", 10);
  h.store->table["other"].owner = "someone";
  h.tick_for(seconds(35), woken_every);
  const auto& expected = h.runs->expected;
  std::map<TimePoint, std::vector<std::string>> by_instant;
  for (const auto& e : expected) {
    by_instant[e.not_before].push_back(e.job_id + "/" + e.owner);
    CHECK(e.scheduled_for == e.not_before);
    CHECK(e.run_id == 0);
    CHECK(e.func == "log");
  }
  std::vector<TimePoint> fired;
  for (const auto& r : h.runs->submitted) fired.push_back(r.scheduled_for);
  REQUIRE(fired.size() >= 6);  // 3 instants x 2 jobs
  for (const TimePoint at : fired) {
    INFO("a fire at " << format_rfc3339(at));
    REQUIRE(by_instant.count(at) == 1);
    auto jobs = by_instant[at];
    std::sort(jobs.begin(), jobs.end());
    CHECK(jobs == std::vector<std::string>{"other/someone", "sparse/tester"});  // each once
  }
  // Each was expected before its claim.
  std::map<std::pair<std::string, TimePoint>, TimePoint> claim_of;
  for (size_t fire = 0; fire < h.store->claimed.size(); ++fire)
    claim_of[{h.store->claimed[fire].job_id, h.store->claimed[fire].scheduled_for}] = h.store->claimed_fire_at[fire];
  size_t checked = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto claim = claim_of.find({expected[i].job_id, expected[i].not_before});
    if (claim == claim_of.end()) continue;  // due after the test's end
    CHECK(h.runs->expected_when[i] < claim->second);
    ++checked;
  }
  CHECK(checked >= 6);
}

TEST_CASE("A dense schedule is claimed in batches a window apart, each fire ahead of its instant", "[scheduler_loop]") {
  Harness h;
  // Woken every millisecond, as run outcomes wake the daemon: those wake-ups claim nothing.
  const Duration woken_every = GENERATE(Duration::max(), Duration(milliseconds(1)));
  const TimePoint start = h.add_dense_jobs(400);  // 400 fires/s, 2.5 ms apart
  h.tick_for(seconds(4), woken_every);
  size_t fires_after_start = 0;
  for (size_t fire = 0; fire < h.store->claimed.size(); ++fire) {
    const TimePoint due = h.store->claimed[fire].scheduled_for, at = h.store->claimed_fire_at[fire];
    INFO("a fire due " << (due - at) / std::chrono::microseconds(1) << " us after its claim");
    CHECK(due >= at);                                          // never claimed late
    CHECK(due - at <= ClaimLead::reach(ClaimLead::kMinLead));  // nor further ahead than the window
    fires_after_start += at >= start + seconds(1);
  }
  const auto claims_after_start = std::count_if(h.store->claimed_at.begin(), h.store->claimed_at.end(),
                                                [&](TimePoint at) { return at >= start + seconds(1); });
  // Steady state, 2 s: 800 fires in claims about 25 ms apart (one per fire without the window).
  INFO(fires_after_start << " fires in " << claims_after_start << " claims");
  CHECK(fires_after_start >= 790);
  CHECK(claims_after_start <= 2 * 1000 / 25 + 2);
}

TEST_CASE("The CPU wake-up latency request is held from a second before each fire until after its instant, and only then",
          "[scheduler_loop]") {
  Harness h;
  h.add_job("every-10s", 10);
  h.add_job("every-25s", 25);
  h.store->claim_takes_per_fire = milliseconds(2);
  h.tick_for(seconds(52));
  REQUIRE(h.runs_of("every-10s") == 5);
  REQUIRE(h.runs_of("every-25s") == 2);
  // The holds and drops alternate, from a hold.
  REQUIRE(!h.cpu_wake.empty());
  for (size_t i = 0; i < h.cpu_wake.size(); ++i) CHECK(h.cpu_wake[i].second == (i % 2 == 0));
  Duration held{};
  for (size_t i = 0; i < h.cpu_wake.size(); i += 2) {
    const TimePoint drop = i + 1 < h.cpu_wake.size() ? h.cpu_wake[i + 1].first : h.clock.now;
    held += drop - h.cpu_wake[i].first;
  }
  // Each fire: held before its claim (so before the thread that starts it sleeps), no more than a
  // second before its instant, and until after the instant.
  const auto held_at = [&](TimePoint t) {
    bool on = false;
    for (const auto& [at, want] : h.cpu_wake)
      if (at <= t) on = want;
    return on;
  };
  REQUIRE(h.store->claimed.size() == h.store->claimed_fire_at.size());
  for (size_t i = 0; i < h.store->claimed.size(); ++i) {
    const TimePoint due = h.store->claimed[i].scheduled_for;
    INFO("the fire due at " << format_rfc3339(due));
    CHECK(held_at(h.store->claimed_fire_at[i]));
    CHECK(held_at(due));
    CHECK(!held_at(due - CpuWakeLatency::kHoldAhead - milliseconds(1)));
  }
  // Between the fires it is dropped: 7 instants (two of them close together) in 52 s, about 1 s
  // held ahead of each and up to a heartbeat after.
  INFO("held " << held / milliseconds(1) << " ms of 52 s");
  CHECK(held <= seconds(7 * 2));
  CHECK(held >= milliseconds(5 * 1000));
}

TEST_CASE("With nothing due the CPU wake-up latency request is never held", "[scheduler_loop]") {
  Harness h;
  h.add_job("hourly", 3600);
  h.tick_for(seconds(30));
  CHECK(h.cpu_wake.empty());
}

TEST_CASE("A heartbeat or a resync never holds back a claim: no fire is claimed late behind one", "[scheduler_loop]") {
  // Both share the loop's connection with the claims, and fires are due every 2.5 ms. A heartbeat of
  // 15 ms (three claim leads) run as soon as it was due held back the claim due meanwhile; a resync
  // of 40 ms (a table of 150,000 jobs) is longer than the time between two claims.
  Options options;
  options.resync_interval = 1.0;
  Harness h(options);
  const Duration woken_every = GENERATE(Duration::max(), Duration(milliseconds(1)));
  const bool long_resync = GENERATE(false, true);
  if (long_resync) h.store->fingerprint_takes = milliseconds(40);
  h.add_dense_jobs(400);
  h.store->heartbeat_takes = milliseconds(15);
  h.tick_for(seconds(10), woken_every);
  const auto& at = h.store->claimed_fire_at;
  for (size_t fire = 0; fire < at.size(); ++fire) {
    const TimePoint due = h.store->claimed[fire].scheduled_for;
    INFO("a fire due " << (due - at[fire]) / std::chrono::microseconds(1) << " us after its claim");
    CHECK(due >= at[fire]);
  }
  CHECK(at.size() >= 3500);
  CHECK(h.store->fingerprints >= 9);  // the resyncs still come once a second
  // The heartbeats still come once a second, late by at most the slip.
  const auto& beats = h.store->heartbeat_at;
  REQUIRE(beats.size() >= 9);
  for (size_t i = 1; i < beats.size(); ++i) {
    INFO("heartbeat " << i << " " << (beats[i] - beats[i - 1]) / std::chrono::microseconds(1) << " us after the one before");
    CHECK(beats[i] - beats[i - 1] <= seconds(1) + milliseconds(15 + 40) + milliseconds(100));
  }
}

TEST_CASE("Fires are never claimed further ahead than a burst's lead, however long a resync took", "[scheduler_loop]") {
  // A resync of 2 s (a huge table, a slow server): what shutdown waits for stays bounded.
  Options options;
  options.resync_interval = 1.0;
  Harness h(options);
  for (int i = 0; i < 100; ++i) h.add_job("s" + std::to_string(i), 1);
  h.store->fingerprint_takes = seconds(2);
  h.tick_for(seconds(12));
  REQUIRE(h.store->fingerprints >= 3);
  const auto& at = h.store->claimed_fire_at;
  for (size_t fire = 0; fire < at.size(); ++fire) CHECK(h.store->claimed[fire].scheduled_for - at[fire] <= ClaimLead::kMaxAhead);
  CHECK(at.size() >= 500);
}

TEST_CASE("A bulk statement's re-read holds back no claim; no deleted or paused job's fire runs after it, "
          "and a changed job loses none", "[scheduler_loop]") {
  // An INSERT or DELETE of more than 100 rows is announced by its count: the loop reads every
  // (job_id, version), here 200 ms, then re-reads the rows that differ, 0.2 ms a row. An UPDATE names
  // its rows one notification each. Fires are due every 2.5 ms.
  Harness h;
  h.add_dense_jobs(400);
  h.store->versions_take = milliseconds(200);
  h.store->load_takes_per_row = std::chrono::microseconds(200);
  h.tick_for(seconds(3), milliseconds(1));
  const size_t before = h.store->claimed.size();
  const std::string op = GENERATE("insert", "delete", "update");
  std::set<std::string> deleted, paused, edited;
  if (op == "insert") {
    for (int i = 0; i < 1000; ++i) h.add_job("new" + std::to_string(i), 1);
  } else if (op == "delete") {
    for (int i = 0; i < 400; i += 2) deleted.insert("s" + std::to_string(i));
    for (const auto& id : deleted) h.store->table.erase(id);
  } else {
    // One UPDATE pauses a quarter of the jobs and changes the description of another quarter: a new
    // version each, the schedule of the second quarter unchanged.
    for (int i = 0; i < 400; i += 2) (i % 4 == 0 ? paused : edited).insert("s" + std::to_string(i));
    for (auto& [id, row] : h.store->table) {
      if (!paused.count(id) && !edited.count(id)) continue;
      row.is_paused = paused.count(id) == 1;
      ++row.version;
      ++row.version_hash;
      row.update_time = h.clock.now;
    }
  }
  const TimePoint committed = h.clock.now;
  if (op == "update") {
    // An UPDATE notifies row by row (here 200 rows, re-read in 40 ms).
    for (const auto& ids : {paused, edited})
      for (const auto& id : ids) h.store->pending.push_back(store::Notification{op, id, "", false});
  } else {
    h.store->pending.push_back(store::Notification{op, "", "", true});
  }
  h.tick_for(seconds(3), milliseconds(1));
  REQUIRE(h.store->delivered_at);
  size_t new_fires = 0, late = 0, of_deleted = 0, of_paused = 0;
  std::map<std::string, std::vector<TimePoint>> edited_fires;
  for (size_t fire = before; fire < h.store->claimed.size(); ++fire) {
    const auto& f = h.store->claimed[fire];
    const TimePoint at = h.store->claimed_fire_at[fire];
    if (f.job_id.rfind("new", 0) == 0) ++new_fires;
    else if (edited.count(f.job_id)) continue;
    else if (f.scheduled_for < at) ++late;
    if (at >= committed && deleted.count(f.job_id)) ++of_deleted;
    if (at >= committed && paused.count(f.job_id)) ++of_paused;
  }
  for (const auto& f : h.store->claimed)  // from the start: the fires before the UPDATE too
    if (edited.count(f.job_id)) edited_fires[f.job_id].push_back(f.scheduled_for);
  CHECK(late == 0);  // the fires due during the comparison were claimed before it
  if (op == "insert") {
    CHECK(new_fires >= 1000 * 2);  // the new jobs fire
  } else if (op == "delete") {
    // The claims ahead of the comparison did ask for fires of deleted jobs (the loop had not yet read
    // which); the claim refused them, as the database's does, and none was won after the DELETE.
    CHECK(of_deleted == 0);
    CHECK(!h.store->refused.empty());
    for (const auto& f : h.store->refused) CHECK(deleted.count(f.job_id) == 1);
  } else {
    // The claims ahead asked for fires of changed jobs under their old version: the claim returned
    // them as changed and none of a paused job was won after the UPDATE. An edited job's fires were
    // decided again under its new version: one a second, none lost, none twice.
    CHECK(of_paused == 0);
    REQUIRE(!h.store->changed.empty());
    for (const auto& f : h.store->changed) CHECK((paused.count(f.job_id) + edited.count(f.job_id)) == 1);
    REQUIRE(edited_fires.size() == edited.size());
    for (const auto& [id, fires] : edited_fires) {
      REQUIRE(fires.size() >= 4);
      CHECK(fires.back() >= committed + seconds(2));
      for (size_t i = 1; i < fires.size(); ++i) CHECK(fires[i] - fires[i - 1] == seconds(1));
    }
  }
}

TEST_CASE("Through a re-read of thousands of rows no fire is skipped for max_instances: the runs that ended are taken "
          "before each claim between chunks", "[scheduler_loop]") {
  // 400 jobs at 1 Hz (every run takes 10 ms) beside 8,000 idle ones; an UPDATE of every idle row is
  // re-read 1,000 rows (200 ms) at a time: 1.6 s, longer than a job's period.
  Harness h;
  h.runs->threads = 1000;  // every run starts at once: a run in flight longer than 10 ms is one not seen to end
  h.add_dense_jobs(400);
  for (int i = 0; i < 8000; ++i) h.add_job("idle" + std::to_string(i), 3600);
  h.store->load_takes_per_row = std::chrono::microseconds(200);
  h.tick_for(seconds(4), milliseconds(1));
  const size_t before = h.store->claimed.size();
  for (auto& [id, row] : h.store->table) {
    if (id.rfind("idle", 0) != 0) continue;
    ++row.version;
    ++row.version_hash;
    h.store->pending.push_back({"update", id, "", false});
  }
  h.tick_for(seconds(3), milliseconds(1));
  size_t skipped = 0, late = 0, fires = 0;
  for (size_t fire = before; fire < h.store->claimed.size(); ++fire) {
    const auto& f = h.store->claimed[fire];
    if (f.job_id.rfind("s", 0) != 0) continue;
    ++fires;
    // The database's claim skips a fire asked for while its job's own runs in flight reach max_instances.
    skipped += f.status != "running" || f.own_running >= f.max_instances;
    late += f.scheduled_for < h.store->claimed_fire_at[fire];
  }
  CHECK(fires >= 400 * 2);
  CHECK(skipped == 0);
  CHECK(late == 0);
}

TEST_CASE("A retry or a run_right_now request refused because its job changed is claimed again under the new version, "
          "its row re-read at once", "[scheduler_loop]") {
  Harness h;
  h.add_job("flaky", 3600);
  h.store->table["flaky"].trigger_kwargs = R"({"trigger":"interval","seconds":3600,"retries":1,"retry_delay":1})";
  h.store->table["flaky"].run_right_now = true;
  h.store->table["flaky"].run_right_now_at = h.clock.now;
  h.runs->failing_jobs = {"flaky"};
  h.add_job("manual", 3600);
  h.store->table["manual"].run_right_now = true;
  h.store->table["manual"].run_right_now_at = h.clock.now + milliseconds(500);
  h.tick_for(milliseconds(100), milliseconds(1));
  REQUIRE(h.runs_of("flaky") == 1);  // failed: its retry is due 1 s later
  REQUIRE(h.runs_of("manual") == 0);
  // Both rows change (a new description each), and no notification reaches the loop.
  for (const char* id : {"flaky", "manual"}) {
    ++h.store->table[id].version;
    ++h.store->table[id].version_hash;
  }
  const auto served = [&](const std::string& id) {
    return std::count_if(h.writer->served.begin(), h.writer->served.end(), [&](auto& s) { return s.first == id; });
  };
  h.tick_for(milliseconds(600), milliseconds(1));
  // The request was asked for under version 1 and refused: not run, not marked served; its row was
  // re-read at once and the request claimed under version 2.
  REQUIRE(h.store->changed.size() == 1);
  CHECK(h.store->changed[0].job_id == "manual");
  CHECK(h.runs_of("manual") == 1);
  CHECK(served("manual") == 1);
  h.tick_for(milliseconds(1000), milliseconds(1));
  // The same for the retry, put back and claimed again 50 ms later.
  REQUIRE(h.store->changed.size() == 2);
  CHECK(h.store->changed[1].job_id == "flaky");
  CHECK(h.store->changed[1].attempt == 2);
  CHECK(h.runs_of("flaky") == 2);
  for (const auto& c : h.store->claimed)
    if (c.job_id == "manual" || c.attempt == 2) CHECK(c.version == std::optional<int64_t>(2));
}

TEST_CASE("A user's change that leaves a row's state as it is is not written back, even while write-backs are queued",
          "[scheduler_loop]") {
  Harness h;
  h.add_job("idle", 3600);
  h.tick_for(milliseconds(100));
  const auto written = h.writer->last_update("idle");
  REQUIRE(written);
  // The writer wrote that back; then a user changes the description (a new version, no new state),
  // while other write-backs are queued (fires keep the queue from emptying).
  auto& row = h.store->table["idle"];
  row.state = written->state;
  row.is_running = written->is_running;
  row.next_run_time = written->next_run_time;
  ++row.version;
  ++row.version_hash;
  h.writer->queued_items = 7;
  const size_t before = h.writer->updates.size();
  h.store->pending.push_back({"update", "idle", "", false});
  h.tick_for(milliseconds(100));
  CHECK(h.writer->updates.size() == before);
  // A change that moves the next fire is written back.
  row.trigger_kwargs = R"({"trigger":"interval","seconds":1800})";
  ++row.version;
  ++row.version_hash;
  h.store->pending.push_back({"update", "idle", "", false});
  h.tick_for(milliseconds(100));
  REQUIRE(h.writer->updates.size() == before + 1);
  CHECK(h.writer->updates.back().next_run_time != written->next_run_time);
}

TEST_CASE("A change committed by a user is written back at once, not gathered into a later batch", "[scheduler_loop]") {
  Harness h;
  h.add_job("a", 60);
  h.tick_for(milliseconds(100));
  const size_t before = h.writer->hurried;
  CHECK(before >= 1);  // the load at start-up
  h.add_job("b", 60);
  h.store->pending.push_back({"insert", "b", "", false});
  h.tick_for(milliseconds(100));
  REQUIRE(h.writer->last_update("b"));
  CHECK(h.writer->hurried == before + 1);
}

TEST_CASE("The control connection lost while runs are in flight: their outcomes are recorded, and firing goes on after a reconnect",
          "[scheduler_loop]") {
  Harness h;
  h.runs->run_takes = milliseconds(1500);  // each run still going when the next second's claim is made
  h.add_job("a", 1);
  h.tick_for(milliseconds(1100));
  REQUIRE(h.runs_of("a") == 1);
  const int64_t first_run = h.runs->submitted.front().run_id;
  h.store->lose_on_claim = 1;  // the claim of the fire due at 2 s
  h.tick_for(seconds(5));

  CHECK(h.store->connect_attempts.size() == 2);
  CHECK(h.metrics.reconnects.value() == 1);
  // The run that was going when the connection broke ended and its outcome went to the writer.
  CHECK(std::any_of(h.writer->records.begin(), h.writer->records.end(),
                    [&](const store::RunRecord& r) { return r.run_id == first_run && r.status == "succeeded"; }));
  // Every second's fire, the one whose claim failed included, was claimed once and run once.
  std::vector<TimePoint> fires;
  for (const auto& c : h.store->claimed) fires.push_back(c.scheduled_for);
  std::sort(fires.begin(), fires.end());
  REQUIRE(fires.size() >= 6);
  CHECK(std::adjacent_find(fires.begin(), fires.end()) == fires.end());
  for (size_t i = 1; i < fires.size(); ++i) CHECK(fires[i] - fires[i - 1] == seconds(1));
  CHECK(h.runs_of("a") == fires.size());
}

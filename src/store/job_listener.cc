#include "store/job_listener.h"

#include <nlohmann/json.hpp>

#include "store/guarded.h"

namespace rowsched::store {

namespace {
constexpr const char* kChannel = "rowsched_job_info";
}

class JobListener::Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::vector<std::string>& sink) : pqxx::notification_receiver(c, kChannel), sink_(sink) {}
  void operator()(const std::string& payload, int) override { sink_.push_back(payload); }

 private:
  std::vector<std::string>& sink_;
};

std::vector<Notification> parse_notification(std::string_view payload, const std::string& schema) {
  std::vector<Notification> out;
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return out;
  if (j.value("schema", "") != schema) return out;
  Notification n;
  n.op = j.value("op", "");
  if (j.contains("job_ids") && j["job_ids"].is_array()) {
    // One notification per statement that inserted or deleted rows: {"op":..,"job_ids":[...]}.
    for (const auto& id : j["job_ids"])
      if (id.is_string()) out.push_back(Notification{n.op, id.get<std::string>(), "", false});
    return out;
  }
  if (j.contains("count") && !j.contains("job_id")) {
    // A statement with too many rows to name: {"op":..,"count":N}.
    n.many = true;
    out.push_back(std::move(n));
    return out;
  }
  if (j.contains("job_id") && j["job_id"].is_string()) n.job_id = j["job_id"].get<std::string>();
  if (j.contains("old_job_id") && j["old_job_id"].is_string()) n.old_job_id = j["old_job_id"].get<std::string>();
  out.push_back(std::move(n));
  return out;
}

JobListener::JobListener(pqxx::connection& conn) : conn_(conn), receiver_(std::make_unique<Receiver>(conn, payloads_)) {}

JobListener::~JobListener() {
  try {
    receiver_.reset();  // UNLISTENs when the connection still works
  } catch (...) {
  }
}

std::vector<Notification> JobListener::drain(const std::string& schema) {
  guarded([&] { return conn_.get_notifs(); });
  if (!conn_.is_open()) throw ConnectionLost("connection closed while waiting for notifications");
  std::vector<Notification> out;
  for (const std::string& payload : payloads_) {
    auto some = parse_notification(payload, schema);
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  payloads_.clear();
  return out;
}

}  // namespace rowsched::store

// The JSON endpoints behind the web page (their shapes are in docs/operations.md, "The web API"):
//   /api/jobs?state=&q=&limit=&offset=     a page of jobs sorted by next run
//   /api/jobs/<id>                          one job: definition, recent runs, next 10 fire times
//   /api/runs?job=&since=&limit=            runs, newest first
//   /api/instances                          scheduler instances with their heartbeat age
//   /api/timeline?from=&to=&state=&q=&limit=&offset=
//                                           past fires (job_run) and upcoming fires (the trigger
//                                           engine) of the jobs on that page of the jobs list
// HTTP is not known here: a request is its parameters, an answer a status and a JSON body, so the
// web server stays a thin shell and the rules for parameters sit in one place.
//
// Thread safety: a WebApi is immutable after construction (its JobIndexCache is thread-safe) and may
// serve many threads, each with its own store::WebReader.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/web_job_index.h"
#include "store/web_reader.h"
#include "trigger/time.h"

namespace rowsched::daemon {

struct WebAnswer {
  int status = 200;
  nlohmann::json body;
};

using WebParams = std::map<std::string, std::string>;

class WebApi {
 public:
  // `default_zone`: the daemon's --timezone, for trigger_kwargs without a timezone. `hide_args`:
  // func_args is answered as "hidden". `clock`: now, injected so tests can fix it. `index`: where
  // pages of the jobs list come from; it must outlive the WebApi.
  WebApi(Zone default_zone, bool hide_args, std::function<TimePoint()> clock, JobIndexCache& index);

  WebAnswer jobs(store::WebReader& reader, const WebParams& params) const;
  WebAnswer job(store::WebReader& reader, const std::string& job_id) const;
  WebAnswer runs(store::WebReader& reader, const WebParams& params) const;
  WebAnswer instances(store::WebReader& reader) const;
  WebAnswer timeline(store::WebReader& reader, const WebParams& params) const;

 private:
  nlohmann::json job_json(const store::WebJob& job) const;
  // The jobs of one page of the list, read fresh, in the list's order.
  std::vector<store::WebJob> page_of_jobs(store::WebReader& reader, const JobFilter& filter, int64_t& total,
                                          TimePoint& as_of) const;
  Zone default_zone_;
  bool hide_args_;
  std::function<TimePoint()> clock_;
  JobIndexCache* index_;
};

}  // namespace rowsched::daemon

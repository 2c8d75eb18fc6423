// A job's schedule in plain words for people ("every 5 minutes", "every day at 03:30", "once, at
// 2024-05-01 12:00"), as the web page shows it beside the trigger_kwargs as written.
//
// Words exist for the common shapes only; for anything else the result is empty and callers show
// Trigger::describe() instead. Pure and total: it never throws, whatever the JSON.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace rowsched {

std::string schedule_in_words(const nlohmann::json& trigger_kwargs);

}  // namespace rowsched

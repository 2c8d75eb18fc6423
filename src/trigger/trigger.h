// A trigger is a pure function from (previous fire time, now) to the next fire time, as in
// APScheduler: no clock, no I/O, no state that changes after construction. Triggers compute
// *nominal* fire instants; jitter (see jitter.h) is applied on top by the caller, so that the nominal
// instant stays the identity of a fire (job_run.scheduled_for) on every rowsched instance.
//
// Thread safety: a constructed Trigger is immutable and may be shared between threads.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "trigger/time.h"

namespace rowsched {

// Raised for every invalid trigger_kwargs input. The message is complete and user-facing: it names
// the key, the value and what is allowed (`trigger_kwargs.hour: "25" is out of range 0-23`).
class TriggerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Trigger {
 public:
  virtual ~Trigger() = default;

  // The next nominal fire instant. With no `previous` fire this is the first fire at or after `now`
  // (and at or after start_date); otherwise the first fire strictly after `previous` (cron and
  // calendarinterval also never before `now`, interval steps from `previous` as APScheduler does).
  // Returns nullopt when the trigger will never fire again (past end_date, a date that has fired).
  virtual std::optional<TimePoint> next_fire_time(std::optional<TimePoint> previous, TimePoint now) const = 0;

  // The jitter bound from trigger_kwargs (zero when none): fires are delayed by up to this much.
  virtual Duration jitter() const { return Duration::zero(); }

  // One line for logs and `rowsched next -v`: "cron[hour='3', minute='30'] in Europe/Berlin".
  virtual std::string describe() const = 0;
};

}  // namespace rowsched

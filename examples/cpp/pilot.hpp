// pilot.hpp — a small header-only C++17 wrapper of libpilot's C interface
// (pilot.h).
//
// Each class owns one handle: it is move-only and frees the handle in its
// destructor (freeing never cancels a pilot; call cancel() for that). A
// failed call throws pilot::Error, which carries the status and the
// library's description of the error. Descriptions and details are JSON
// text, as in pilot.h; returned strings are copied into std::string and the
// library's copy is released at once.
//
// Waits take a timeout in milliseconds (negative: for ever) and report a
// timeout as false or std::nullopt, not as an exception.
#ifndef PILOT_HPP
#define PILOT_HPP

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "pilot.h"

namespace pilot {

// A failed call: status() is the PILOT_E* code, what() names the call and
// includes pilot_last_error().
class Error : public std::runtime_error {
public:
    Error(pilot_status status, const std::string &call)
        : std::runtime_error(call + " failed (status " + std::to_string(status) + "): " + pilot_last_error()),
          status_(status) {}

    pilot_status status() const noexcept { return status_; }

private:
    pilot_status status_;
};

// The library version, e.g. "0.1.0".
inline std::string version() { return pilot_version(); }

// BigJob's name of a state ("Done").
inline std::string state_name(pilot_state state) { return pilot_state_name(state); }

namespace detail {

inline void check(pilot_status status, const char *call) {
    if (status != PILOT_OK) throw Error(status, call);
}

// Like check, but PILOT_ETIMEOUT is a normal outcome: returns false.
inline bool check_wait(pilot_status status, const char *call) {
    if (status == PILOT_ETIMEOUT) return false;
    check(status, call);
    return true;
}

struct StringFree {
    void operator()(char *s) const noexcept { pilot_string_free(s); }
};

// Calls fn(handle, &s) and returns s as a std::string, releasing s.
template <typename Handle, typename Fn>
std::string get_string(Fn fn, Handle handle, const char *call) {
    char *raw = nullptr;
    pilot_status status = fn(handle, &raw);
    std::unique_ptr<char, StringFree> owned(raw);
    check(status, call);
    return owned ? std::string(owned.get()) : std::string();
}

// Owns a handle freed with Free; move-only. A moved-from or default
// Owned holds 0, which is never a valid handle.
template <typename Handle, pilot_status (*Free)(Handle)>
class Owned {
public:
    Owned() noexcept = default;
    explicit Owned(Handle handle) noexcept : handle_(handle) {}
    Owned(Owned &&other) noexcept : handle_(std::exchange(other.handle_, 0)) {}
    Owned &operator=(Owned &&other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, 0);
        }
        return *this;
    }
    Owned(const Owned &) = delete;
    Owned &operator=(const Owned &) = delete;
    ~Owned() { reset(); }

    Handle get() const noexcept { return handle_; }

private:
    // A destructor cannot report a failure; freeing a valid handle does not fail.
    void reset() noexcept {
        if (handle_ != 0) Free(handle_);
        handle_ = 0;
    }

    Handle handle_ = 0;
};

}  // namespace detail

// A compute unit (BigJob's ComputeUnit).
class Unit {
public:
    // Takes ownership of a handle.
    explicit Unit(pilot_unit handle) noexcept : h_(handle) {}

    // Reconnects to a unit by its URL.
    static Unit open(const std::string &url, const std::string &options_json = "{}") {
        pilot_unit u = 0;
        detail::check(pilot_unit_open(url.c_str(), options_json.c_str(), &u), "pilot_unit_open");
        return Unit(u);
    }

    pilot_unit handle() const noexcept { return h_.get(); }
    std::string id() const { return detail::get_string(pilot_unit_id, handle(), "pilot_unit_id"); }
    std::string url() const { return detail::get_string(pilot_unit_url, handle(), "pilot_unit_url"); }
    std::string details() const { return detail::get_string(pilot_unit_details, handle(), "pilot_unit_details"); }
    std::string description() const {
        return detail::get_string(pilot_unit_description, handle(), "pilot_unit_description");
    }
    std::string sandbox() const { return detail::get_string(pilot_unit_sandbox, handle(), "pilot_unit_sandbox"); }

    pilot_state state() const {
        pilot_state s = PILOT_STATE_UNKNOWN;
        detail::check(pilot_unit_state(handle(), &s), "pilot_unit_state");
        return s;
    }

    // The final state, or std::nullopt if the timeout ended first.
    std::optional<pilot_state> wait(int64_t timeout_ms = -1) const {
        pilot_state s = PILOT_STATE_UNKNOWN;
        if (!detail::check_wait(pilot_unit_wait(handle(), timeout_ms, &s), "pilot_unit_wait")) return std::nullopt;
        return s;
    }

    void cancel() const { detail::check(pilot_unit_cancel(handle()), "pilot_unit_cancel"); }

private:
    detail::Owned<pilot_unit, pilot_unit_free> h_;
};

// A pilot (BigJob's PilotCompute).
class Job {
public:
    // Takes ownership of a handle.
    explicit Job(pilot_job handle) noexcept : h_(handle) {}

    // Reconnects to a pilot by its URL.
    static Job open(const std::string &url, const std::string &options_json = "{}") {
        pilot_job j = 0;
        detail::check(pilot_job_open(url.c_str(), options_json.c_str(), &j), "pilot_job_open");
        return Job(j);
    }

    pilot_job handle() const noexcept { return h_.get(); }
    std::string id() const { return detail::get_string(pilot_job_id, handle(), "pilot_job_id"); }
    std::string url() const { return detail::get_string(pilot_job_url, handle(), "pilot_job_url"); }
    std::string details() const { return detail::get_string(pilot_job_details, handle(), "pilot_job_details"); }
    std::string description() const {
        return detail::get_string(pilot_job_description, handle(), "pilot_job_description");
    }
    // The URLs of the units submitted to this pilot, as a JSON array.
    std::string units() const { return detail::get_string(pilot_job_units, handle(), "pilot_job_units"); }

    pilot_state state() const {
        pilot_state s = PILOT_STATE_UNKNOWN;
        detail::check(pilot_job_state(handle(), &s), "pilot_job_state");
        return s;
    }

    // BigJob's barrier: true when every unit of the pilot (or the pilot) is
    // final, false if the timeout ended first.
    bool wait(int64_t timeout_ms = -1) const {
        return detail::check_wait(pilot_job_wait(handle(), timeout_ms), "pilot_job_wait");
    }

    Unit submit_unit(const std::string &description_json) const {
        pilot_unit u = 0;
        detail::check(pilot_job_submit_unit(handle(), description_json.c_str(), &u), "pilot_job_submit_unit");
        return Unit(u);
    }

    void cancel() const { detail::check(pilot_job_cancel(handle()), "pilot_job_cancel"); }

private:
    detail::Owned<pilot_job, pilot_job_free> h_;
};

// A pilot compute service (BigJob's PilotComputeService).
class Service {
public:
    // options_json as for pilot_service_new, e.g.
    // {"coordination_url": "redis://localhost:6379"}.
    explicit Service(const std::string &options_json = "{}") {
        pilot_service s = 0;
        detail::check(pilot_service_new(options_json.c_str(), &s), "pilot_service_new");
        h_ = Handle(s);
    }

    pilot_service handle() const noexcept { return h_.get(); }
    std::string id() const { return detail::get_string(pilot_service_id, handle(), "pilot_service_id"); }
    std::string url() const { return detail::get_string(pilot_service_url, handle(), "pilot_service_url"); }
    // The URLs of the service's pilots, as a JSON array.
    std::string pilots() const { return detail::get_string(pilot_service_pilots, handle(), "pilot_service_pilots"); }

    Job create_pilot(const std::string &description_json) const {
        pilot_job j = 0;
        detail::check(pilot_service_create_pilot(handle(), description_json.c_str(), &j),
                      "pilot_service_create_pilot");
        return Job(j);
    }

    // Queues a unit that any pilot of the service may run.
    Unit submit_unit(const std::string &description_json) const {
        pilot_unit u = 0;
        detail::check(pilot_service_submit_unit(handle(), description_json.c_str(), &u),
                      "pilot_service_submit_unit");
        return Unit(u);
    }

    void cancel() const { detail::check(pilot_service_cancel(handle()), "pilot_service_cancel"); }

private:
    using Handle = detail::Owned<pilot_service, pilot_service_free>;
    Handle h_;
};

// A compute data service (BigJob's ComputeDataService): spreads units over
// the services added to it.
class DataService {
public:
    DataService() {
        pilot_dataservice c = 0;
        detail::check(pilot_dataservice_new(&c), "pilot_dataservice_new");
        h_ = Handle(c);
    }

    pilot_dataservice handle() const noexcept { return h_.get(); }
    std::string id() const { return detail::get_string(pilot_dataservice_id, handle(), "pilot_dataservice_id"); }
    // The details of every pilot of the added services, as a JSON array.
    std::string details() const {
        return detail::get_string(pilot_dataservice_details, handle(), "pilot_dataservice_details");
    }

    void add_service(const Service &service) const {
        detail::check(pilot_dataservice_add_service(handle(), service.handle()), "pilot_dataservice_add_service");
    }
    void remove_service(const Service &service) const {
        detail::check(pilot_dataservice_remove_service(handle(), service.handle()),
                      "pilot_dataservice_remove_service");
    }

    Unit submit_unit(const std::string &description_json) const {
        pilot_unit u = 0;
        detail::check(pilot_dataservice_submit_unit(handle(), description_json.c_str(), &u),
                      "pilot_dataservice_submit_unit");
        return Unit(u);
    }

    // True when every unit submitted through this service is final, false if
    // the timeout ended first; PILOT_ENOPILOTS (no live pilot left) throws.
    bool wait(int64_t timeout_ms = -1) const {
        return detail::check_wait(pilot_dataservice_wait(handle(), timeout_ms), "pilot_dataservice_wait");
    }

private:
    using Handle = detail::Owned<pilot_dataservice, pilot_dataservice_free>;
    Handle h_;
};

}  // namespace pilot

#endif  // PILOT_HPP

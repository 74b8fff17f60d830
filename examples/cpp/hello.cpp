// hello.cpp runs the workload of the seed example (examples/example.py)
// through the C++ wrapper pilot.hpp: one fork pilot with one process, four
// /bin/echo units with an environment variable expanded in their arguments,
// wait, cancel.
//
// The coordination store is redis://localhost:6379, or
// $PILOT_COORDINATION_URL if set; with no Redis on localhost the library runs
// an embedded server (and says so on stderr). Each unit's output lands in
// $HOME/agent/bj-<pilot uuid>/sj-<unit uuid>/stdout.txt.
//
// Build (after make install):
//   c++ -std=c++17 -o hello hello.cpp $(pkg-config --cflags --libs pilot)
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pilot.hpp"

namespace {

constexpr int number_jobs = 4;

// s as a JSON string literal, quotes included.
std::string json_quote(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string getenv_or(const char *name, const std::string &fallback) {
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

void run() {
    const std::string home = getenv_or("HOME", "");
    if (home.empty()) throw std::runtime_error("HOME is not set");
    const std::string url = getenv_or("PILOT_COORDINATION_URL", "redis://localhost:6379");

    pilot::Service pcs("{\"coordination_url\": " + json_quote(url) + "}");
    pilot::Job job = pcs.create_pilot(
        "{\"service_url\": \"fork://localhost\", \"number_of_processes\": 1, "
        "\"working_directory\": " + json_quote(home + "/agent") + ", \"walltime\": 10}");
    try {
        pilot::DataService cds;
        cds.add_service(pcs);

        std::cout << "Finished Pilot-Job setup. Submitting compute units" << std::endl;

        std::vector<pilot::Unit> units;
        for (int i = 0; i < number_jobs; i++) {
            units.push_back(cds.submit_unit(
                "{\"executable\": \"/bin/echo\", "
                "\"arguments\": [\"Hello\", \"$ENV1\", \"I am CU number " + std::to_string(i) + "\"], "
                "\"environment\": [\"ENV1=World\"], "
                "\"number_of_processes\": 1, \"spmd_variation\": \"single\", "
                "\"output\": \"stdout.txt\", \"error\": \"stderr.txt\"}"));
        }

        std::cout << "Waiting for compute units to complete" << std::endl;
        cds.wait();

        std::cout << "Terminate Pilot Jobs" << std::endl;
        pcs.cancel();
    } catch (...) {
        // Do not leave the pilot's agent running; the first error is the one to report.
        try {
            job.cancel();
        } catch (const pilot::Error &e) {
            std::cerr << "hello: cancel the pilot after the failure: " << e.what() << '\n';
        }
        throw;
    }
}

}  // namespace

int main() {
    try {
        run();
    } catch (const std::exception &e) {
        std::cerr << "hello: " << e.what() << '\n';
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

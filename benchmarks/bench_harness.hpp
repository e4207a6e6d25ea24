// The timing method shared by core_bench.cpp (latent) and peers/libtorch/libtorch_bench.cpp,
// and mirrored line for line by peers/torch_bench.py, so all three libraries are timed alike:
//
//   1. warm-up: call the workload until at least `warmup_s` seconds and 3 calls have passed;
//   2. calibrate: from the warm-up's mean, pick `iters` calls per repetition so one repetition
//      lasts about min_time / reps seconds (at least one call);
//   3. measure: `reps` repetitions of `iters` calls each; the figure is the median of the
//      repetitions' per-call times (robust to the noise of a shared 2-core machine).
//
// Each figure is printed as one machine-readable line:
//   BENCH lib=latent workload=gemm_f32 size=1024 threads=1 metric=gflops value=123.4
// plus `iters`, `reps`, the spread (min/max per-call seconds), `wall_s` (the median the value
// comes from) and `cpu_s`: the process CPU time per call in the median repetition. At one
// thread cpu_s is what the call costs even when other processes share the CPUs (time spent
// queued for a CPU is not counted); scripts/bench.sh tabulates it beside the wall times.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace bench {

struct Options {
  double min_time = 0.3;   // seconds per figure (all repetitions together)
  int reps = 5;            // repetitions; the median is reported
  double warmup_s = 0.05;  // seconds of warm-up calls before calibrating
  long fixed_iters = 0;    // > 0: that many calls per repetition, no calibration (for profilers)
};

struct Timing {
  double median_s = 0;  // seconds per call, median over repetitions
  double cpu_s = 0;     // process CPU seconds per call in the median repetition
  double min_s = 0, max_s = 0;
  long iters = 0;       // calls per repetition
  int reps = 0;
};

inline double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}
inline double cpu_now_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename F>
Timing time_it(F&& fn, const Options& opt) {
  // 1. warm-up
  long warm_calls = 0;
  double t0 = now_s(), elapsed = 0;
  while (warm_calls < 3 || elapsed < opt.warmup_s) {
    fn();
    ++warm_calls;
    elapsed = now_s() - t0;
  }
  // 2. calibrate
  double per_call = elapsed / static_cast<double>(warm_calls);
  double per_rep = opt.min_time / std::max(opt.reps, 1);
  long iters = opt.fixed_iters > 0
                   ? opt.fixed_iters
                   : std::max(1L, static_cast<long>(per_rep / std::max(per_call, 1e-9) + 0.5));
  // 3. measure
  std::vector<std::pair<double, double>> samples;  // (wall, cpu) seconds per call
  for (int r = 0; r < std::max(opt.reps, 1); ++r) {
    double s = now_s(), c = cpu_now_s();
    for (long i = 0; i < iters; ++i) fn();
    double cpu = (cpu_now_s() - c) / static_cast<double>(iters);
    samples.push_back({(now_s() - s) / static_cast<double>(iters), cpu});
  }
  std::vector<std::pair<double, double>> sorted_pairs = samples;
  std::sort(sorted_pairs.begin(), sorted_pairs.end());
  std::vector<double> sorted;
  for (auto& p : sorted_pairs) sorted.push_back(p.first);
  Timing t;
  size_t n = sorted.size();
  t.median_s = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  t.cpu_s = n % 2 ? sorted_pairs[n / 2].second
                  : 0.5 * (sorted_pairs[n / 2 - 1].second + sorted_pairs[n / 2].second);
  t.min_s = sorted.front();
  t.max_s = sorted.back();
  t.iters = iters;
  t.reps = static_cast<int>(n);
  return t;
}

inline void report(const std::string& lib, const std::string& workload, long size, int threads,
                   const std::string& metric, double value, const Timing& t) {
  std::printf("BENCH lib=%s workload=%s size=%ld threads=%d metric=%s value=%.6g iters=%ld reps=%d "
              "min_s=%.6g max_s=%.6g wall_s=%.6g cpu_s=%.6g\n",
              lib.c_str(), workload.c_str(), size, threads, metric.c_str(), value, t.iters, t.reps,
              t.min_s, t.max_s, t.median_s, t.cpu_s);
  std::fflush(stdout);
}

// "1,2" -> {1, 2}
inline std::vector<int> parse_int_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.push_back(std::stoi(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

inline bool selected(const std::vector<std::string>& list, const std::string& name) {
  return list.empty() || std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace bench

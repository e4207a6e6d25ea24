// latent::io: a progress line for training loops.
//
//   io::Progress progress("train", steps);
//   for (int64_t step = 1; step <= steps; ++step) {
//     ...
//     progress.update(step, {{"d_loss", d}, {"g_loss", g}});
//   }
//   progress.finish();   // "train  5000/5000 in 01:40, 50.0 it/s  d_loss=0.6931  g_loss=1.234"
//
// On a terminal: one live line, redrawn in place ('\r') at most 10 times a second,
//   train [########............]  2000/5000  40.0%  50.0 it/s  00:40<01:00  d_loss=0.6931
// (bar, done/total, percent, mean rate, elapsed<ETA, metrics to 4 significant digits),
// cut to the terminal's width. Otherwise (a log file, a pipe): the same without the bar, a
// plain line at most every 5 seconds (set_plain_interval), then the final line. The
// environment variable LATENT_PROGRESS=tty|plain|off overrides the detection (a terminal
// is: the stream is std::cerr or std::clog and stderr is a TTY, or std::cout and stdout
// is); set_mode overrides both. With total <= 0 the total is unknown: no bar, percent or ETA.
//
// format_duration, format_rate and format_metric are public, and the clock is injectable
// (set_clock), so output can be checked without sleeping.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/ioctl.h>
#include <unistd.h>
#endif

namespace latent::io {

// Seconds as "mm:ss", or "h:mm:ss" from an hour up (truncated to whole seconds); "--:--"
// when unknown (negative or not finite).
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds >= 1e12) return "--:--";
  const auto t = static_cast<int64_t>(std::floor(seconds));
  char buf[48];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02d:%02d", static_cast<long long>(t / 3600), static_cast<int>(t / 60 % 60),
                  static_cast<int>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(t / 60), static_cast<int>(t % 60));
  return buf;
}

// Items per second as "12.3 it/s" (3 significant digits or more), or, below one, seconds
// per item as "2.50 s/it"; "? it/s" when unknown (not positive or not finite).
inline std::string format_rate(double per_second) {
  if (!std::isfinite(per_second) || per_second <= 0) return "? it/s";
  const bool slow = per_second < 1;
  const double v = slow ? 1 / per_second : per_second;
  char buf[64];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, slow ? "s/it" : "it/s");
  return buf;
}

// A metric value to 4 significant digits ("0.6931", "1.235e-05", "nan").
inline std::string format_metric(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

class Progress {
 public:
  enum class Mode { tty, plain, off };
  using Clock = std::function<double()>;  // seconds, monotonic

  Progress(std::string label, int64_t total, std::ostream& os = std::cerr)
      : label_(std::move(label)), total_(total), os_(&os), mode_(detect(os)), clock_(steady_seconds) {
    start_ = last_draw_ = last_print_ = clock_();
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Ends a live line that finish() did not (without a summary).
  ~Progress() {
    if (mode_ == Mode::tty && drawn_ && !finished_) {
      *os_ << '\n';
      os_->flush();
    }
  }

  Progress& set_mode(Mode mode) {
    mode_ = mode;
    return *this;
  }
  // Plain mode: the least time between two lines (default 5 s).
  Progress& set_plain_interval(double seconds) {
    plain_interval_ = seconds;
    return *this;
  }
  // The time source (seconds); restarts the timing.
  Progress& set_clock(Clock clock) {
    clock_ = std::move(clock);
    start_ = last_draw_ = last_print_ = clock_();
    return *this;
  }

  // `done` items of `total` so far, and the metrics to show.
  void update(int64_t done, const std::vector<std::pair<std::string, double>>& metrics = {}) {
    done_ = done;
    metrics_ = metrics;
    if (mode_ == Mode::off || finished_) return;
    const double now = clock_();
    if (mode_ == Mode::tty) {
      if (drawn_ && now - last_draw_ < 0.1 && !(total_ > 0 && done >= total_)) return;
      last_draw_ = now;
      draw(status(now, true));
    } else if (now - last_print_ >= plain_interval_) {
      last_print_ = now;
      *os_ << status(now, false) << '\n';
      os_->flush();
    }
  }

  // The final line: items done, total time, mean rate, last metrics. Once only.
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (mode_ == Mode::off) return;
    const double elapsed = clock_() - start_;
    std::string s = label_ + "  " + std::to_string(done_);
    if (total_ > 0) s += "/" + std::to_string(total_);
    s += " in " + format_duration(elapsed) + ", " + format_rate(elapsed > 0 ? done_ / elapsed : 0.0);
    s += metric_text();
    if (mode_ == Mode::tty) {
      draw(s);
      *os_ << '\n';
    } else {
      *os_ << s << '\n';
    }
    os_->flush();
  }

  Mode mode() const { return mode_; }
  // The status line as it would be printed now (tty: with the bar).
  std::string status_line() const { return status(clock_(), mode_ == Mode::tty); }

 private:
  static double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static Mode detect(std::ostream& os) {
    if (const char* env = std::getenv("LATENT_PROGRESS")) {
      if (std::strcmp(env, "tty") == 0) return Mode::tty;
      if (std::strcmp(env, "plain") == 0) return Mode::plain;
      if (std::strcmp(env, "off") == 0) return Mode::off;
    }
#if defined(__unix__) || defined(__APPLE__)
    if ((&os == &std::cerr || &os == &std::clog) && ::isatty(STDERR_FILENO)) return Mode::tty;
    if (&os == &std::cout && ::isatty(STDOUT_FILENO)) return Mode::tty;
#endif
    return Mode::plain;
  }
  int terminal_width() const {
#if (defined(__unix__) || defined(__APPLE__)) && defined(TIOCGWINSZ)
    if (os_ != &std::cout && os_ != &std::cerr && os_ != &std::clog) return 0;
    struct winsize ws {};
    const int fd = os_ == &std::cout ? STDOUT_FILENO : STDERR_FILENO;
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
#endif
    return 0;
  }

  std::string metric_text() const {
    std::string s;
    for (const auto& m : metrics_) s += "  " + m.first + "=" + format_metric(m.second);
    return s;
  }
  std::string status(double now, bool bar) const {
    const double elapsed = now - start_;
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
    std::string s = label_;
    char buf[64];
    if (total_ > 0) {
      const double frac = std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
      if (bar) {
        constexpr int kBar = 20;
        const int filled = static_cast<int>(frac * kBar);
        s += " [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kBar - filled), '.') + "]";
      }
      std::snprintf(buf, sizeof buf, "  %lld/%lld  %.1f%%", static_cast<long long>(done_),
                    static_cast<long long>(total_), 100 * frac);
      s += buf;
      const double eta = done_ > 0 ? static_cast<double>(total_ - done_) * elapsed / static_cast<double>(done_) : -1;
      s += "  " + format_rate(rate) + "  " + format_duration(elapsed) + "<" + format_duration(eta);
    } else {
      s += "  " + std::to_string(done_) + " it  " + format_rate(rate) + "  " + format_duration(elapsed);
    }
    return s + metric_text();
  }
  void draw(std::string line) {
    const int cols = terminal_width();
    if (cols > 1 && static_cast<int>(line.size()) > cols - 1) line.resize(static_cast<size_t>(cols - 1));
    const size_t len = line.size();
    if (len < last_len_) line.append(last_len_ - len, ' ');  // erase the rest of a longer line
    *os_ << '\r' << line;
    os_->flush();
    last_len_ = len;
    drawn_ = true;
  }

  std::string label_;
  int64_t total_;
  std::ostream* os_;
  Mode mode_;
  Clock clock_;
  double start_ = 0, last_draw_ = 0, last_print_ = 0, plain_interval_ = 5;
  int64_t done_ = 0;
  std::vector<std::pair<std::string, double>> metrics_;
  size_t last_len_ = 0;
  bool drawn_ = false, finished_ = false;
};

}  // namespace latent::io

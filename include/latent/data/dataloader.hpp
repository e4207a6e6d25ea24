// latent::data::DataLoader: batches of a dataset in (shuffled) order, prepared ahead by a
// background thread, as torch.utils.data.DataLoader with one worker.
//
//   data::DataLoader loader(data::FashionMNIST(data::Split::Train),
//                           {.batch_size = 64, .shuffle = true, .drop_last = true, .seed = 1});
//   for (int epoch = 0; epoch < 3; ++epoch)
//     for (auto& [images, labels] : loader) { ... }   // images (64, 1, 28, 28), labels (64)
//
// Each `for` (each begin()) runs one epoch and moves to the next, so epochs see different
// orders; set_epoch(e) picks the epoch the next loop runs. Epoch e's order is randperm(N)
// with a generator seeded from (seed, e), and random transforms draw from a second
// generator seeded from (seed, e): the same seed gives the same batches, whatever the
// thread timing. Batches are made in order on one worker thread, which keeps up to
// `prefetch` batches ready while the loop body runs (0: no thread, batches are made on
// the calling thread when asked for). The worker's ops use `worker_threads` OpenMP threads
// (default 1, so it does not compete with the training step for the cores).
//
// An epoch belongs to its iterators: when the last one goes (the loop ends, breaks or is
// left by an exception) the worker is stopped and joined (after the batch in hand). An
// exception thrown while making a batch is thrown again by the loop, after the batches
// made before it. The loader keeps its own copy of the dataset (datasets are handles to
// tensors, cheap to copy), shared with running epochs, so it may go before they do.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../latent.hpp"
#include "dataset.hpp"

namespace latent::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;  // skip the last batch when it is smaller than batch_size
  uint64_t seed = 0;       // shuffles and random transforms
  int prefetch = 2;        // batches prepared ahead by the worker thread; 0: no thread
  int worker_threads = 1;  // OpenMP threads for the worker's ops
  // Batches in page-locked memory, so their .to(cuda) copies do not wait (as PyTorch's
  // pin_memory=True); ignored where no CUDA device is available.
  bool pin_memory = false;
};

namespace detail {

// splitmix64: independent-looking 64-bit seeds from (seed, epoch, stream).
inline uint64_t mix_seed(uint64_t seed, uint64_t epoch, uint64_t stream) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ epoch) ^ stream);
}

template <typename D>
using batch_of = std::decay_t<decltype(std::declval<const D&>().get_batch(std::declval<const IndexTensor&>()))>;

// Every tensor of a batch moved to page-locked memory (the batch types of dataset.hpp, or
// one tensor).
template <typename T>
void pin_batch(Tensor<T>& t) {
  t = t.pin_memory();
}
inline void pin_batch(ImageBatch& b) {
  b.images = b.images.pin_memory();
  b.labels = b.labels.pin_memory();
}
template <typename... Ts>
void pin_batch(std::tuple<Tensor<Ts>...>& b) {
  std::apply([](auto&... t) { ((t = t.pin_memory()), ...); }, b);
}

// One pass over the dataset: the sample order, the worker thread and the ready batches.
template <typename D>
class EpochRun {
 public:
  using Batch = batch_of<D>;

  EpochRun(std::shared_ptr<const D> dataset, std::vector<int64_t> order, int64_t batch_size, int64_t batches,
           uint64_t transform_seed, int prefetch, int worker_threads, bool pin_memory)
      : dataset_(std::move(dataset)), order_(std::move(order)), batch_size_(batch_size), batches_(batches),
        gen_(transform_seed), prefetch_(prefetch), worker_threads_(worker_threads), pin_memory_(pin_memory) {
    if (prefetch_ > 0 && batches_ > 0) worker_ = std::thread([this] { work(); });
  }
  ~EpochRun() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  EpochRun(const EpochRun&) = delete;
  EpochRun& operator=(const EpochRun&) = delete;

  // Makes the next batch current; false after the last. Rethrows the worker's exception.
  bool advance() {
    current_.reset();
    if (consumed_ >= batches_) return false;
    if (prefetch_ == 0) {
      current_.emplace(make(consumed_++));
      return true;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !ready_.empty() || error_; });
    if (ready_.empty()) {
      std::exception_ptr e = error_;
      consumed_ = batches_;
      lock.unlock();
      std::rethrow_exception(e);
    }
    current_.emplace(std::move(ready_.front()));
    ready_.pop_front();
    ++consumed_;
    lock.unlock();
    cv_.notify_all();
    return true;
  }
  Batch& current() { return *current_; }

 private:
  // Batch b: samples order[b * batch_size, ...) (fewer in the last batch).
  Batch make(int64_t b) {
    NoGradGuard no_grad;
    const int64_t n = static_cast<int64_t>(order_.size());
    const int64_t begin = b * batch_size_, end = std::min(n, begin + batch_size_);
    auto indices = from_vector<int64_t>(std::vector<int64_t>(order_.begin() + begin, order_.begin() + end));
    Batch batch = [&] {
      if constexpr (requires(const D& d, const IndexTensor& i, Generator& g) { d.get_batch(i, g); })
        return dataset_->get_batch(indices, gen_);
      else
        return dataset_->get_batch(indices);
    }();
    if constexpr (requires(Batch& b) { pin_batch(b); })
      if (pin_memory_) pin_batch(batch);
    LATENT_CHECK(!pin_memory_ || requires(Batch& b) { pin_batch(b); },
                 "DataLoader: pin_memory needs batches of tensors (a tensor, a tuple of tensors or an ImageBatch)");
    return batch;
  }

  void work() {
    set_num_threads(worker_threads_);  // this thread's OpenMP setting only
    for (int64_t b = 0; b < batches_; ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < prefetch_; });
        if (stop_) return;
      }
      try {
        Batch batch = make(b);
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          error_ = std::current_exception();
        }
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
    }
  }

  std::shared_ptr<const D> dataset_;
  std::vector<int64_t> order_;
  int64_t batch_size_, batches_;
  Generator gen_;  // random transforms, used by one thread at a time
  int prefetch_, worker_threads_;
  bool pin_memory_;
  std::optional<Batch> current_;
  int64_t consumed_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace detail

template <BatchDataset D>
class DataLoader {
 public:
  using Dataset = D;
  using Batch = detail::batch_of<D>;

  // A range-for iterator over one epoch; copies share the epoch, the last one stops it.
  class Iterator {
   public:
    using value_type = Batch;
    using reference = Batch&;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;

    Iterator() = default;
    Batch& operator*() const { return run_->current(); }
    Batch* operator->() const { return &run_->current(); }
    Iterator& operator++() {
      if (!run_->advance()) run_.reset();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const Iterator& it, std::default_sentinel_t) { return !it.run_; }

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<detail::EpochRun<D>> run) : run_(std::move(run)) {
      if (!run_->advance()) run_.reset();
    }
    std::shared_ptr<detail::EpochRun<D>> run_;
  };

  explicit DataLoader(D dataset, DataLoaderOptions options = {})
      : dataset_(std::make_shared<const D>(std::move(dataset))), options_(options) {
    LATENT_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
    LATENT_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be non-negative, got ", options_.prefetch);
    LATENT_CHECK(options_.worker_threads >= 1, "DataLoader: worker_threads must be at least 1, got ",
                 options_.worker_threads);
    samples_ = static_cast<int64_t>(dataset_->size());
    LATENT_CHECK(samples_ >= 0, "DataLoader: the dataset reports a negative size ", samples_);
  }

  // Batches per epoch: ceil(N / batch_size), or floor with drop_last.
  int64_t size() const {
    return options_.drop_last ? samples_ / options_.batch_size : (samples_ + options_.batch_size - 1) / options_.batch_size;
  }
  int64_t num_samples() const { return samples_; }
  const D& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  // The epoch the next loop (begin()) runs; each begin() advances it by one.
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch) {
    LATENT_CHECK(epoch >= 0, "DataLoader: epoch must be non-negative, got ", epoch);
    epoch_ = epoch;
  }
  // The sample order of `epoch` (0..N-1 without shuffle).
  std::vector<int64_t> order(int64_t epoch) const {
    if (!options_.shuffle) {
      std::vector<int64_t> o(static_cast<size_t>(samples_));
      std::iota(o.begin(), o.end(), int64_t{0});
      return o;
    }
    Generator gen(detail::mix_seed(options_.seed, static_cast<uint64_t>(epoch), 0));
    return randperm(samples_, gen).to_vector();
  }

  // Starts epoch epoch(), then advances the counter.
  Iterator begin() {
    const int64_t e = epoch_++;
    auto run = std::make_shared<detail::EpochRun<D>>(dataset_, order(e), options_.batch_size, size(),
                                                     detail::mix_seed(options_.seed, static_cast<uint64_t>(e), 1),
                                                     options_.prefetch, options_.worker_threads,
                                                     options_.pin_memory && cuda::is_available());
    return Iterator(std::move(run));
  }
  std::default_sentinel_t end() const { return {}; }

 private:
  std::shared_ptr<const D> dataset_;
  DataLoaderOptions options_;
  int64_t samples_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace latent::data

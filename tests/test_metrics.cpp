// latent::metrics: the Frechet distance against closed forms and against pytorch-fid
// (scipy.linalg.sqrtm) and torchmetrics, the streaming FID against the batch computation
// whatever the chunking, the Inception Score against its limits and torchmetrics, and mode
// coverage on the 8-Gaussian ring. The references are tests/fixtures/metrics/metrics.json
// (scripts/make_metric_fixtures.sh; schema at the top of scripts/make_metric_fixtures.py),
// and ImageClassifier's are tests/fixtures/metrics/classifier_*.safetensors
// (scripts/make_classifier_fixture.sh).
#include <latent/data/synthetic.hpp>
#include <latent/io.hpp>
#include <latent/metrics.hpp>

#include <Eigen/QR>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>

#include "helpers.hpp"

using namespace latent;
using json = nlohmann::json;

namespace {

const char* kRegenerateMetrics = "regenerate it with scripts/make_metric_fixtures.sh";

json load_fixture() {
  std::filesystem::path path = std::filesystem::path(LATENT_FIXTURES_DIR) / "metrics" / "metrics.json";
  std::ifstream in(path);
  INFO("missing " << path.string() << "; " << kRegenerateMetrics);
  REQUIRE(in.good());
  json j = json::parse(in);
  REQUIRE(j.at("format").get<int>() == 1);
  return j;
}

TensorD matrix_of(const json& m) {
  auto shape = m.at("shape").get<std::vector<int64_t>>();
  return from_vector<double>(m.at("data").get<std::vector<double>>(), Shape{shape[0], shape[1]});
}

// |a - b| <= rel |b|
bool rel_close(double a, double b, double rel) { return std::abs(a - b) <= rel * std::abs(b); }

// A random symmetric positive definite (d, d) matrix.
TensorD random_spd(int64_t d, uint64_t seed) {
  Generator gen(seed);
  auto a = randn<double>(Shape{d, d}, gen);
  return a.matmul(a.t()) / static_cast<double>(d) + eye<double>(d) * 0.1;
}

// A random orthogonal (d, d) matrix (Q of a QR decomposition).
Eigen::MatrixXd random_orthogonal(int64_t d, uint64_t seed) {
  Generator gen(seed);
  Eigen::MatrixXd a = metrics::detail::to_matrix(randn<double>(Shape{d, d}, gen));
  return Eigen::HouseholderQR<Eigen::MatrixXd>(a).householderQ();
}

// Q diag(values) Q^T as a tensor.
TensorD rotated_diagonal(const Eigen::MatrixXd& q, const std::vector<double>& values) {
  Eigen::VectorXd v = Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
  Eigen::MatrixXd m = q * v.asDiagonal() * q.transpose();
  return metrics::detail::to_tensor(m);
}

// A fixed non-linear feature extractor: images (B, 3, 2, 2) -> tanh(x W + b), (B, 5).
struct ToyExtractor {
  TensorD w, b;
  int64_t calls = 0, max_chunk = 0;
  bool grad_seen = false;
  ToyExtractor() {
    Generator gen(7);
    w = randn<double>(Shape{12, 5}, gen).requires_grad_();
    b = randn<double>(Shape{5}, gen);
  }
  TensorD operator()(const TensorD& x) {
    ++calls;
    max_chunk = std::max(max_chunk, x.size(0));
    grad_seen = grad_seen || is_grad_enabled();
    return (x.reshape(Shape{x.size(0), -1}).matmul(w) + b).tanh();
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Frechet distance
// ---------------------------------------------------------------------------------------

TEST_CASE("frechet_distance: identical Gaussians are at distance 0", "[metrics]") {
  Generator gen(1);
  auto mu = randn<double>(Shape{6}, gen);
  auto s = random_spd(6, 2);
  CHECK(metrics::frechet_distance(mu, s, mu, s) == Approx(0).margin(1e-10));
  auto features = randn<double>(Shape{30, 4}, gen);
  auto st = metrics::gaussian_stats(features);
  CHECK(metrics::frechet_distance(st, st) == Approx(0).margin(1e-12));
  // A singular covariance (rank 1) too.
  auto v = tensor<double>({1, 2, 3}, {3, 1});
  auto rank1 = v.matmul(v.t());
  CHECK(metrics::frechet_distance(tensor<double>({0, 0, 0}), rank1, tensor<double>({0, 0, 0}), rank1) ==
        Approx(0).margin(1e-10));
}

TEST_CASE("frechet_distance: closed forms (1-D, diagonal, commuting, singular)", "[metrics]") {
  // 1-D: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2).
  const double m1 = 1.5, s1 = 4, m2 = -0.5, s2 = 0.25;
  CHECK(metrics::frechet_distance(tensor<double>({m1}), tensor<double>({s1}, {1, 1}), tensor<double>({m2}),
                                  tensor<double>({s2}, {1, 1})) ==
        Approx((m1 - m2) * (m1 - m2) + s1 + s2 - 2 * std::sqrt(s1 * s2)).epsilon(1e-14));

  // Diagonal: |dmu|^2 + sum (sqrt a_i - sqrt b_i)^2.
  const std::vector<double> a{0.5, 2.0, 3.0, 0.01}, b{1.5, 0.2, 3.0, 4.0}, mu1{0, 1, 2, 3}, mu2{1, 1, 0, 3.5};
  double want = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    want += (std::sqrt(a[i]) - std::sqrt(b[i])) * (std::sqrt(a[i]) - std::sqrt(b[i]));
  }
  auto diag = [](const std::vector<double>& v) {
    std::vector<double> m(v.size() * v.size(), 0.0);
    for (size_t i = 0; i < v.size(); ++i) m[i * v.size() + i] = v[i];
    return from_vector<double>(m, Shape{static_cast<int64_t>(v.size()), static_cast<int64_t>(v.size())});
  };
  auto t_mu1 = from_vector<double>(mu1), t_mu2 = from_vector<double>(mu2);
  CHECK(metrics::frechet_distance(t_mu1, diag(a), t_mu2, diag(b)) == Approx(want).epsilon(1e-12));

  // Commuting (same eigenvectors, a random rotation): the diagonal formula in that basis.
  auto q = random_orthogonal(4, 3);
  CHECK(metrics::frechet_distance(t_mu1, rotated_diagonal(q, a), t_mu2, rotated_diagonal(q, b)) ==
        Approx(want).epsilon(1e-10));

  // Singular: a zero covariance against S gives |dmu|^2 + Tr(S), either way round.
  auto s = random_spd(4, 4);
  const double dmu2 = (t_mu1 - t_mu2).square().sum().item();
  const double tr = s.to_vector()[0] + s.to_vector()[5] + s.to_vector()[10] + s.to_vector()[15];
  auto zero = zeros<double>(Shape{4, 4});
  CHECK(metrics::frechet_distance(t_mu1, zero, t_mu2, s) == Approx(dmu2 + tr).epsilon(1e-12));
  CHECK(metrics::frechet_distance(t_mu1, s, t_mu2, zero) == Approx(dmu2 + tr).epsilon(1e-12));
  // Rank-deficient, commuting: zero eigenvalues in both.
  CHECK(metrics::frechet_distance(t_mu1, rotated_diagonal(q, {0, 1, 4, 0}), t_mu2, rotated_diagonal(q, {0, 9, 1, 2})) ==
        Approx(dmu2 + 4 + 1 + 2).epsilon(1e-10));
}

TEST_CASE("frechet_distance: symmetric in its two Gaussians; float computes in double", "[metrics]") {
  Generator gen(5);
  auto mu1 = randn<double>(Shape{7}, gen), mu2 = randn<double>(Shape{7}, gen);
  auto s1 = random_spd(7, 6), s2 = random_spd(7, 8);
  const double d12 = metrics::frechet_distance(mu1, s1, mu2, s2);
  const double d21 = metrics::frechet_distance(mu2, s2, mu1, s1);
  CHECK(d12 > 0);
  CHECK(rel_close(d21, d12, 1e-12));
  const double f = metrics::frechet_distance(mu1.to<float>(), s1.to<float>(), mu2.to<float>(), s2.to<float>());
  CHECK(rel_close(f, d12, 1e-5));
  // Views (a transposed sigma is the same symmetric matrix) read correctly.
  CHECK(rel_close(metrics::frechet_distance(mu1, s1.t(), mu2, s2), d12, 1e-12));
}

TEST_CASE("frechet_distance and gaussian_stats: errors name the op and the shapes", "[metrics]") {
  auto mu = zeros<double>(Shape{3});
  auto s = eye<double>(3);
  REQUIRE_ERROR(metrics::frechet_distance(mu, s, zeros<double>(Shape{4}), eye<double>(4)),
                Catch::Contains("frechet_distance: mu2 must have the shape of mu1 (3)") && Catch::Contains("[4]"));
  REQUIRE_ERROR(metrics::frechet_distance(mu, zeros<double>(Shape{3, 2}), mu, s),
                Catch::Contains("frechet_distance: sigma1 must be a square (3, 3)") && Catch::Contains("[3, 2]"));
  REQUIRE_ERROR(metrics::frechet_distance(mu, s, mu, eye<double>(4)), Catch::Contains("sigma2 must be a square"));
  REQUIRE_ERROR(metrics::frechet_distance(s, s, s, s), Catch::Contains("mu1 must be a non-empty 1-D mean"));
  REQUIRE_ERROR(metrics::frechet_distance(mu, tensor<double>({1, 0.5, 0, 0, 1, 0, 0, 0, 1}, {3, 3}), mu, s),
                Catch::Contains("sigma1 must be a symmetric covariance"));
  REQUIRE_ERROR(metrics::frechet_distance(tensor<double>({0, NAN, 0}), s, mu, s), Catch::Contains("non-finite"));
  REQUIRE_ERROR(metrics::frechet_distance(TensorD(), s, mu, s), Catch::Contains("undefined"));

  REQUIRE_ERROR(metrics::gaussian_stats(zeros<double>(Shape{1, 4})),
                Catch::Contains("gaussian_stats: needs at least 2 samples") && Catch::Contains("[1, 4]"));
  REQUIRE_ERROR(metrics::gaussian_stats(zeros<double>(Shape{5})), Catch::Contains("features must be (N, D)"));
  REQUIRE_ERROR(metrics::gaussian_stats(tensor<double>({1, 2, INFINITY, 4}, {2, 2})), Catch::Contains("non-finite"));
}

TEST_CASE("gaussian_stats: mean and unbiased covariance (numpy.cov), stable for large means", "[metrics]") {
  json j = load_fixture();
  for (const auto& c : j.at("fid")) {
    INFO(c.at("name").get<std::string>());
    auto st = metrics::gaussian_stats(matrix_of(c.at("real")));
    CHECK(st.n == c.at("real").at("shape")[0].get<int64_t>());
    LATENT_REQUIRE_CLOSE(st.mu, from_vector<double>(c.at("real_mu").get<std::vector<double>>()), 1e-12, 1e-13);
    LATENT_REQUIRE_CLOSE(st.sigma, matrix_of(c.at("real_sigma")), 1e-11, 1e-13);
  }
  // More rows than one accumulation block, far from the origin: the block-merged statistics
  // match a two-pass computation (a sum of x x^T minus n mu mu^T would lose ~8 digits here).
  Generator gen(11);
  const int64_t n = 2 * metrics::detail::kStatsBlockRows + 123;
  auto x = randn<double>(Shape{n, 3}, gen) * 0.01 + 1e4;
  auto st = metrics::gaussian_stats(x);
  auto mean = x.mean({0});
  auto centered = x - mean;
  auto cov = centered.t().matmul(centered) / static_cast<double>(n - 1);
  LATENT_REQUIRE_CLOSE(st.mu, mean, 1e-14, 0);
  LATENT_REQUIRE_CLOSE(st.sigma, cov, 1e-9, 1e-14);
  // Float features: statistics computed in double from the float values.
  auto xf = randn<float>(Shape{40, 3}, gen);
  LATENT_REQUIRE_CLOSE(metrics::gaussian_stats(xf).sigma, metrics::gaussian_stats(xf.to<double>()).sigma, 1e-14,
                       1e-15);
}

TEST_CASE("frechet_distance: agrees with pytorch-fid (scipy sqrtm) and torchmetrics", "[metrics]") {
  json j = load_fixture();
  INFO("fixture versions: " << j.at("versions").dump());
  for (const auto& c : j.at("fid")) {
    INFO(c.at("name").get<std::string>());
    auto real = matrix_of(c.at("real")), fake = matrix_of(c.at("fake"));
    const double got = metrics::frechet_distance(metrics::gaussian_stats(real), metrics::gaussian_stats(fake));
    const double tol = c.at("tolerance").get<double>();
    INFO(std::setprecision(17) << "latent " << got << ", scipy " << c.at("scipy").get<double>() << ", torchmetrics "
                   << c.at("torchmetrics").get<double>() << ", numpy symmetric " << c.at("symmetric_eig").get<double>());
    CHECK(rel_close(got, c.at("scipy").get<double>(), tol));
    CHECK(rel_close(got, c.at("torchmetrics").get<double>(), tol));
    // The fixture's numpy version of latent's formula (without the noise cut, so only as
    // close as the case's tolerance when the covariances are singular).
    CHECK(rel_close(got, c.at("symmetric_eig").get<double>(), tol > 1e-8 ? tol : 1e-11));

    // The streaming class with an identity extractor gives the same, in any chunking.
    metrics::FID<double> fid([](const TensorD& x) { return x; }, {.batch_size = 7});
    fid.update(real, true);
    fid.update(fake.narrow(0, 0, 3), false);
    fid.update(fake.narrow(0, 3, fake.size(0) - 3), false);
    CHECK(rel_close(fid.compute(), got, 1e-11));
    // And in float: single-precision features, double statistics.
    metrics::FID<float> fidf([](const TensorF& x) { return x; });
    fidf.update(real.to<float>(), true);
    fidf.update(fake.to<float>(), false);
    CHECK(rel_close(fidf.compute(), got, 1e-5));
  }
}

// ---------------------------------------------------------------------------------------
// Streaming FID
// ---------------------------------------------------------------------------------------

TEST_CASE("FID: streaming equals the batch computation whatever the chunking", "[metrics]") {
  Generator gen(21);
  auto real = randn<double>(Shape{53, 3, 2, 2}, gen);
  auto fake = randn<double>(Shape{41, 3, 2, 2}, gen) * 0.7 + 0.2;
  ToyExtractor toy;
  const double want = [&] {
    NoGradGuard no_grad;
    return metrics::frechet_distance(metrics::gaussian_stats(toy(real)), metrics::gaussian_stats(toy(fake)));
  }();
  REQUIRE(want > 0);
  for (int64_t batch : {1, 5, 16, 64, 1000}) {
    for (int pieces : {1, 3}) {
      INFO("batch_size " << batch << ", update calls per kind " << pieces);
      auto extractor = std::make_shared<ToyExtractor>(toy);
      extractor->calls = extractor->max_chunk = 0;
      extractor->grad_seen = false;
      metrics::FID<double> fid([extractor](const TensorD& x) { return (*extractor)(x); }, {.batch_size = batch});
      CHECK(fid.feature_dim() == 0);
      for (const auto* images : {&fake, &real}) {
        const int64_t n = images->size(0), step = (n + pieces - 1) / pieces;
        for (int64_t start = 0; start < n; start += step)
          fid.update(images->narrow(0, start, std::min(step, n - start)), images == &real);
      }
      CHECK(fid.real_count() == 53);
      CHECK(fid.fake_count() == 41);
      CHECK(fid.feature_dim() == 5);
      CHECK(extractor->max_chunk <= batch);
      CHECK_FALSE(extractor->grad_seen);
      CHECK(rel_close(fid.compute(), want, 1e-11));
      auto rs = fid.real_stats();
      CHECK(rs.n == 53);
      NoGradGuard no_grad;
      auto direct = metrics::gaussian_stats(toy(real));
      LATENT_REQUIRE_CLOSE(rs.mu, direct.mu, 1e-12, 1e-14);
      LATENT_REQUIRE_CLOSE(rs.sigma, direct.sigma, 1e-11, 1e-14);
      LATENT_REQUIRE_CLOSE(fid.fake_stats().sigma, metrics::gaussian_stats(toy(fake)).sigma, 1e-11, 1e-14);
    }
  }
  // Features of more than 2 dims are flattened per image; an empty batch is a no-op.
  metrics::FID<double> fid4([](const TensorD& x) { return x; }, {.batch_size = 10});
  fid4.update(real, true);
  fid4.update(fake.narrow(0, 0, 0), false);
  fid4.update(fake, false);
  CHECK(fid4.feature_dim() == 12);
  CHECK(rel_close(fid4.compute(), metrics::frechet_distance(metrics::gaussian_stats(real.reshape(Shape{53, 12})),
                                                            metrics::gaussian_stats(fake.reshape(Shape{41, 12}))),
                  1e-11));
}

TEST_CASE("FID: reset_fake keeps the real statistics, reset forgets everything", "[metrics]") {
  Generator gen(31);
  auto real = randn<double>(Shape{30, 4}, gen);
  auto fake1 = randn<double>(Shape{25, 4}, gen) + 1.0;
  auto fake2 = randn<double>(Shape{20, 4}, gen) * 2.0;
  auto identity = [](const TensorD& x) { return x; };
  metrics::FID<double> fid(identity, {.batch_size = 8});
  fid.update(real, true);
  fid.update(fake1, false);
  const double d1 = fid.compute();
  fid.reset_fake();
  CHECK(fid.real_count() == 30);
  CHECK(fid.fake_count() == 0);
  CHECK(fid.feature_dim() == 4);
  REQUIRE_ERROR(fid.compute(), Catch::Contains("FID::compute: needs at least 2 real and 2 fake samples, has 30 real "
                                               "and 0 fake"));
  REQUIRE_ERROR(fid.fake_stats(), Catch::Contains("FID::fake_stats: needs at least 2 samples"));
  fid.update(fake2, false);
  metrics::FID<double> fresh(identity);
  fresh.update(real, true);
  fresh.update(fake2, false);
  CHECK(rel_close(fid.compute(), fresh.compute(), 1e-12));
  CHECK_FALSE(rel_close(fid.compute(), d1, 1e-3));
  // The real features' dimension still holds after reset_fake.
  REQUIRE_ERROR(fid.update(zeros<double>(Shape{3, 5}), false),
                Catch::Contains("FID::update (fake)") && Catch::Contains("returned 5 features per image") &&
                    Catch::Contains("earlier updates had 4"));
  fid.reset();
  CHECK(fid.real_count() == 0);
  CHECK(fid.fake_count() == 0);
  CHECK(fid.feature_dim() == 0);
  fid.update(zeros<double>(Shape{3, 5}), true);  // any dimension again
  CHECK(fid.feature_dim() == 5);
}

TEST_CASE("FID: errors, and a failed update changes nothing", "[metrics]") {
  auto identity = [](const TensorD& x) { return x; };
  REQUIRE_ERROR(metrics::FID<double>(identity, {.batch_size = 0}), Catch::Contains("batch_size must be positive"));
  REQUIRE_ERROR(metrics::FID<double>(metrics::FID<double>::FeatureExtractor{}), Catch::Contains("extractor is empty"));
  metrics::FID<double> fid(identity, {.batch_size = 4});
  fid.update(tensor<double>({1, 2, 3, 4, 5, 6}, {3, 2}), true);
  // Non-finite features in the second chunk: the first chunk is not counted either.
  auto bad = ones<double>(Shape{6, 2});
  bad.data()[10] = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_ERROR(fid.update(bad, true),
                Catch::Contains("FID::update (real): the features of images 4..5 have non-finite entries"));
  CHECK(fid.real_count() == 3);
  REQUIRE_ERROR(fid.compute(), Catch::Contains("has 3 real and 0 fake"));
  // An extractor that drops the batch dimension or returns the wrong batch size.
  metrics::FID<double> flat([](const TensorD& x) { return x.sum({1}); });
  REQUIRE_ERROR(flat.update(ones<double>(Shape{3, 2}), false),
                Catch::Contains("FID::update (fake): the feature extractor must return (B, D) features") &&
                    Catch::Contains("B = 3") && Catch::Contains("got shape [3]"));
  metrics::FID<double> wrong([](const TensorD& x) { return x.narrow(0, 0, 1); });
  REQUIRE_ERROR(wrong.update(ones<double>(Shape{3, 2}), true), Catch::Contains("got shape [1, 2]"));
  REQUIRE_ERROR(fid.update(zeros<double>(Shape{}), true), Catch::Contains("images must have a batch dimension"));
}

// ---------------------------------------------------------------------------------------
// Inception Score
// ---------------------------------------------------------------------------------------

TEST_CASE("inception_score: uniform predictions score 1, balanced one-hot ones score C", "[metrics]") {
  auto uniform_probs = full<double>(Shape{40, 10}, 0.1);
  auto [m1, s1] = metrics::inception_score(uniform_probs, 4);
  CHECK(m1 == Approx(1.0).epsilon(1e-14));
  CHECK(s1 == Approx(0.0).margin(1e-14));
  auto [m2, s2] = metrics::inception_score_from_logits(zeros<float>(Shape{40, 10}), 4);
  CHECK(m2 == Approx(1.0).epsilon(1e-14));
  CHECK(s2 == Approx(0.0).margin(1e-14));

  // Row i is one-hot at class i % 10: every piece of 10 rows holds each class once.
  std::vector<double> onehot(400, 0.0);
  for (int i = 0; i < 40; ++i) onehot[i * 10 + i % 10] = 1.0;
  auto [m3, s3] = metrics::inception_score(from_vector<double>(onehot, Shape{40, 10}), 4);
  CHECK(m3 == Approx(10.0).epsilon(1e-13));
  CHECK(s3 == Approx(0.0).margin(1e-12));
  // Confident logits approach the same limit.
  auto logits = from_vector<double>(onehot, Shape{40, 10}) * 60.0;
  CHECK(metrics::inception_score_from_logits(logits, 4).first == Approx(10.0).epsilon(1e-12));
  // All samples of one class: the marginal is that class, the score 1 (mode collapse).
  std::vector<double> same(400, 0.0);
  for (int i = 0; i < 40; ++i) same[i * 10 + 3] = 1.0;
  CHECK(metrics::inception_score(from_vector<double>(same, Shape{40, 10}), 4).first == Approx(1.0).epsilon(1e-14));
}

TEST_CASE("inception_score: agrees with torchmetrics (torch.chunk splits, unbiased std)", "[metrics]") {
  json j = load_fixture();
  INFO("fixture versions: " << j.at("versions").dump());
  for (const auto& c : j.at("inception_score")) {
    INFO(c.at("name").get<std::string>());
    auto logits = matrix_of(c.at("logits"));
    const int splits = c.at("splits").get<int>();
    // torchmetrics shuffles the rows first; the fixture records its permutation.
    auto perm = from_vector<int64_t>(c.at("permutation").get<std::vector<int64_t>>());
    auto tm = c.at("torchmetrics").get<std::vector<double>>();
    auto [mean, stdev] = metrics::inception_score_from_logits(index_select(logits, 0, perm), splits);
    CHECK(rel_close(mean, tm[0], 1e-12));
    CHECK(rel_close(stdev, tm[1], 1e-10));
    auto in_order = c.at("numpy_in_order").get<std::vector<double>>();
    auto got = metrics::inception_score_from_logits(logits, splits);
    CHECK(rel_close(got.first, in_order[0], 1e-12));
    CHECK(rel_close(got.second, in_order[1], 1e-10));
    // The same from probabilities (softmax in double).
    auto probs = metrics::inception_score(logits.softmax(1), splits);
    CHECK(rel_close(probs.first, in_order[0], 1e-12));
    CHECK(rel_close(probs.second, in_order[1], 1e-10));
    // Float logits: computed in double from the float values.
    CHECK(rel_close(metrics::inception_score_from_logits(logits.to<float>(), splits).first, in_order[0], 1e-6));
  }
}

TEST_CASE("inception_score: torch.chunk pieces; errors", "[metrics]") {
  // 3 samples in 10 splits: 3 pieces of one sample, each scoring exp(0) = 1.
  auto p = tensor<double>({0.2, 0.8, 0.5, 0.5, 1.0, 0.0}, {3, 2});
  auto [m, s] = metrics::inception_score(p, 10);
  CHECK(m == Approx(1.0).epsilon(1e-14));
  CHECK(s == Approx(0.0).margin(1e-14));
  // One piece: the std of a single score is NaN, as torch.std.
  auto one = metrics::inception_score(p, 1);
  CHECK(one.first > 1.0);
  CHECK(std::isnan(one.second));
  // 5 rows in 3 splits: pieces of 2, 2, 1 -> scores s01, s23, 1.
  auto q = tensor<double>({0.9, 0.1, 0.1, 0.9, 0.7, 0.3, 0.3, 0.7, 0.5, 0.5}, {5, 2});
  auto piece = [](double a, double b) {  // two rows (a, 1-a), (b, 1-b); marginal (a+b)/2
    const double py = (a + b) / 2;
    auto kl = [&](double x) { return x * std::log(x / py) + (1 - x) * std::log((1 - x) / (1 - py)); };
    return std::exp((kl(a) + kl(b)) / 2);
  };
  const double s01 = piece(0.9, 0.1), s23 = piece(0.7, 0.3);
  const double mean3 = (s01 + s23 + 1) / 3;
  const double std3 = std::sqrt(((s01 - mean3) * (s01 - mean3) + (s23 - mean3) * (s23 - mean3) +
                                 (1 - mean3) * (1 - mean3)) / 2);
  auto r = metrics::inception_score(q, 3);
  CHECK(r.first == Approx(mean3).epsilon(1e-13));
  CHECK(r.second == Approx(std3).epsilon(1e-12));

  REQUIRE_ERROR(metrics::inception_score(tensor<double>({0.5, 0.6}, {1, 2})),
                Catch::Contains("inception_score: row 0 of probs") && Catch::Contains("sum 1.1") &&
                    Catch::Contains("inception_score_from_logits"));
  REQUIRE_ERROR(metrics::inception_score(tensor<double>({1.5, -0.5}, {1, 2})), Catch::Contains("minimum -0.5"));
  REQUIRE_ERROR(metrics::inception_score(tensor<double>({0.5, 0.5})),
                Catch::Contains("probs must be (N, C)") && Catch::Contains("[2]"));
  REQUIRE_ERROR(metrics::inception_score_from_logits(zeros<double>(Shape{0, 3})),
                Catch::Contains("inception_score_from_logits: logits must be (N, C)"));
  REQUIRE_ERROR(metrics::inception_score(p, 0), Catch::Contains("splits must be positive, got 0"));
  REQUIRE_ERROR(metrics::inception_score_from_logits(tensor<double>({0, INFINITY}, {1, 2})),
                Catch::Contains("non-finite"));
}

// ---------------------------------------------------------------------------------------
// Mode coverage
// ---------------------------------------------------------------------------------------

TEST_CASE("mode_coverage: ring samples hit all 8 modes, one mode's samples hit 1", "[metrics]") {
  auto centers = data::gaussian_ring_centers<double>();
  // Exact centers, mode j repeated j + 1 times.
  std::vector<int64_t> idx;
  for (int64_t j = 0; j < 8; ++j)
    for (int64_t r = 0; r <= j; ++r) idx.push_back(j);
  auto exact = index_select(centers, 0, from_vector<int64_t>(idx));
  auto c = metrics::mode_coverage(exact, centers, 0.06);
  CHECK(c.modes_hit == 8);
  CHECK(c.high_quality_fraction == 1.0);
  CHECK(c.per_mode == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  // min_count: modes with fewer high-quality samples do not count.
  CHECK(metrics::mode_coverage(exact, centers, 0.06, 5).modes_hit == 4);
  CHECK(metrics::ring_mode_coverage(exact.to<float>()).modes_hit == 8);

  // Samples of the ring itself (stddev 0.02, threshold 3 stddev): all modes, ~98.9% high quality.
  Generator gen(3);
  auto ring = data::gaussian_ring<double>(4000, gen);
  auto rc = metrics::ring_mode_coverage(ring.first);
  CHECK(rc.modes_hit == 8);
  CHECK(rc.high_quality_fraction > 0.98);
  CHECK(rc.high_quality_fraction < 0.995);
  // per_mode counts the samples of each mode that passed.
  auto modes = ring.second.to_vector();
  for (int64_t j = 0; j < 8; ++j) {
    const auto drawn = std::count(modes.begin(), modes.end(), j);
    CHECK(rc.per_mode[j] <= drawn);
    CHECK(rc.per_mode[j] > 0.95 * drawn);
  }

  // Mode collapse: every sample near mode 3.
  auto one = centers.narrow(0, 3, 1).expand(Shape{500, 2}) + normal<double>(Shape{500, 2}, 0.0, 0.02, gen);
  auto oc = metrics::ring_mode_coverage(one);
  CHECK(oc.modes_hit == 1);
  CHECK(oc.per_mode[3] == static_cast<int64_t>(std::llround(oc.high_quality_fraction * 500)));
  CHECK(oc.high_quality_fraction > 0.95);
  for (int64_t j = 0; j < 8; ++j)
    if (j != 3) CHECK(oc.per_mode[j] == 0);
}

TEST_CASE("mode_coverage: far and non-finite samples are low quality; nearest center wins", "[metrics]") {
  auto centers = tensor<double>({0, 0, 1, 0}, {2, 2});
  // (0.04, 0): mode 0; (0.9, 0.05): mode 1 at distance ~0.112 > 0.1; (0.5, 0): between
  // (a tie goes to mode 0) but too far; origin; NaN.
  auto s = tensor<double>({0.04, 0, 0.9, 0.05, 0.5, 0, 0, 0, NAN, 0, 0.95, 0}, {6, 2});
  auto c = metrics::mode_coverage(s, centers, 0.1);
  CHECK(c.per_mode == std::vector<int64_t>{2, 1});
  CHECK(c.modes_hit == 2);
  CHECK(c.high_quality_fraction == Approx(3.0 / 6.0));
  auto tie = metrics::mode_coverage(tensor<double>({0.5, 0}, {1, 2}), centers, 0.5);
  CHECK(tie.per_mode == std::vector<int64_t>{1, 0});
  CHECK(metrics::mode_coverage(s, centers, 0.1, 2).modes_hit == 1);
}

TEST_CASE("mode_coverage: errors for bad shapes and arguments", "[metrics]") {
  auto centers = data::gaussian_ring_centers<double>();
  auto pts = zeros<double>(Shape{4, 2});
  REQUIRE_ERROR(metrics::mode_coverage(zeros<double>(Shape{4, 3}), centers, 0.06),
                Catch::Contains("mode_coverage: samples must be (N, 2)") && Catch::Contains("[4, 3]"));
  REQUIRE_ERROR(metrics::mode_coverage(zeros<double>(Shape{8}), centers, 0.06), Catch::Contains("samples must be"));
  REQUIRE_ERROR(metrics::mode_coverage(zeros<double>(Shape{0, 2}), centers, 0.06), Catch::Contains("N >= 1"));
  REQUIRE_ERROR(metrics::mode_coverage(pts, zeros<double>(Shape{8, 3}), 0.06),
                Catch::Contains("mode_coverage: centers must be (K, 2)") && Catch::Contains("[8, 3]"));
  REQUIRE_ERROR(metrics::mode_coverage(pts, centers, 0.0), Catch::Contains("threshold must be a positive"));
  REQUIRE_ERROR(metrics::mode_coverage(pts, centers, 0.06, 0), Catch::Contains("min_count must be at least 1, got 0"));
  REQUIRE_ERROR(metrics::mode_coverage(pts, tensor<double>({0, NAN}, {1, 2}), 0.06),
                Catch::Contains("center 0 of 1 has a non-finite coordinate"));
  REQUIRE_ERROR(metrics::ring_mode_coverage(pts, data::GaussianRingOptions{.stddev = 0}),
                Catch::Contains("ring_mode_coverage: the ring's stddev must be positive"));
}

TEST_CASE("ImageClassifier: PyTorch state_dict layout, features and logits, input checks", "[metrics]") {
  metrics::ImageClassifier<float> clf;
  // The names and shapes of the same model written as nn.Sequential in PyTorch:
  // features = Sequential(Conv, BN, ReLU, MaxPool) x 3 + (Flatten, Linear, ReLU); head = (Dropout, Linear).
  const std::vector<std::pair<std::string, Shape>> expected_params = {
      {"features.0.weight", {32, 1, 3, 3}},  {"features.0.bias", {32}},   {"features.1.weight", {32}},
      {"features.1.bias", {32}},             {"features.4.weight", {64, 32, 3, 3}}, {"features.4.bias", {64}},
      {"features.5.weight", {64}},           {"features.5.bias", {64}},   {"features.8.weight", {128, 64, 3, 3}},
      {"features.8.bias", {128}},            {"features.9.weight", {128}}, {"features.9.bias", {128}},
      {"features.13.weight", {128, 2048}},   {"features.13.bias", {128}}, {"head.1.weight", {10, 128}},
      {"head.1.bias", {10}}};
  auto named = clf.named_parameters();
  REQUIRE(named.size() == expected_params.size());
  int64_t count = 0;
  for (size_t i = 0; i < named.size(); ++i) {
    CHECK(named[i].first == expected_params[i].first);
    CHECK(named[i].second.shape() == expected_params[i].second);
    count += named[i].second.numel();
  }
  CHECK(count == 356682);
  auto state = clf.state_dict();
  CHECK(std::any_of(state.begin(), state.end(), [](const auto& kv) { return kv.first == "features.9.running_var"; }));

  clf.eval();
  Generator gen(3);
  TensorF x = rand<float>({5, 1, 32, 32}, gen) * 2.0f - 1.0f;
  auto [features, logits] = clf.features_and_logits(x);
  CHECK(features.shape() == Shape{5, 128});
  CHECK(amin(features, {0, 1}).item() >= 0.0f);  // after the ReLU
  CHECK(logits.shape() == Shape{5, 10});
  CHECK(latent::testing::all_close(logits, clf(x), 0.0, 0.0));

  metrics::ImageClassifier<float> wide({.in_channels = 3, .image_size = 64, .num_classes = 4});
  CHECK(wide.forward(rand<float>({2, 3, 64, 64}, gen)).shape() == Shape{2, 4});
  CHECK_THROWS_WITH(clf(rand<float>({2, 1, 28, 28}, gen)),
                    Catch::Contains("ImageClassifier::forward") && Catch::Contains("(B, 1, 32, 32)") &&
                        Catch::Contains("[2, 1, 28, 28]"));
  CHECK_THROWS_WITH(metrics::ImageClassifier<float>({.image_size = 30}), Catch::Contains("multiple of 8"));
}

TEST_CASE("ImageClassifier: matches PyTorch in eval and train mode, with gradients", "[metrics][parity]") {
  const auto dir = std::filesystem::path(LATENT_FIXTURES_DIR) / "metrics";
  auto io_file = io::SafeTensors::read_file(dir / "classifier_io.safetensors");
  auto it = io_file.metadata().find("config");
  REQUIRE(it != io_file.metadata().end());
  const auto c = json::parse(it->second);
  const metrics::ImageClassifierOptions options{.in_channels = c.at("in_channels"), .image_size = c.at("image_size"),
                                                .num_classes = c.at("num_classes"), .feature_dim = c.at("feature_dim"),
                                                .dropout = c.at("dropout")};
  // float32 weights, as PyTorch saved them; the references were computed in float64 from them.
  metrics::ImageClassifier<double> clf(options);
  io::load_module(clf, dir / "classifier_state.safetensors");  // strict: every name and buffer
  const auto x = io_file.get<double>("x");

  clf.eval();  // running statistics
  {
    NoGradGuard no_grad;
    auto [features, logits] = clf.features_and_logits(x);
    LATENT_REQUIRE_CLOSE(features, io_file.get<double>("eval.features"), 1e-10, 1e-12);
    LATENT_REQUIRE_CLOSE(logits, io_file.get<double>("eval.logits"), 1e-10, 1e-12);
  }

  clf.train();  // batch statistics; dropout is 0 in the fixture
  auto xg = x.clone().requires_grad_();
  auto logits = clf(xg);
  LATENT_REQUIRE_CLOSE(logits, io_file.get<double>("train.logits"), 1e-10, 1e-12);
  (logits * io_file.get<double>("w")).sum().backward();
  LATENT_REQUIRE_CLOSE(xg.grad(), io_file.get<double>("grad.x"), 1e-9, 1e-12);
  const auto params = clf.named_parameters();
  int checked = 0;
  for (const auto& entry : io_file.names()) {
    if (entry.rfind("grad.", 0) != 0 || entry == "grad.x") continue;
    auto param = nn::detail::find_named(params, entry.substr(5));
    INFO(entry);
    REQUIRE(param != params.end());
    LATENT_REQUIRE_CLOSE(param->second.grad(), io_file.get<double>(entry), 1e-9, 1e-12);
    ++checked;
  }
  CHECK(checked == 14);
}

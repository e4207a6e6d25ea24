# Loss functions (family "loss", read by tests/test_parity_loss.cpp). Executed in
# make_fixtures.py's namespace: case(), randn(), unif(), const(), index() come from there.
# Every loss runs with each reduction; class weights are constants (PyTorch does not
# differentiate them), targets require grad wherever PyTorch differentiates them.
LOSS = "loss"
REDUCTIONS = ("none", "mean", "sum")


def probs(*shape, axis=1, grad=True):
    """Rows of class probabilities along `axis` (positive, summing to 1)."""

    def gen(rng):
        p = np.asarray(rng.uniform(0.05, 1.0, shape))
        return p / p.sum(axis=axis, keepdims=True)

    return Inp(gen, grad=grad)


def opt(t, a, flag, k):
    """Input k when args[flag] says it is present, else None."""
    return t[k] if a[flag] else None


def bce(t, a):
    return F.binary_cross_entropy(t[0], t[1], weight=opt(t, a, "weighted", 2), reduction=a["reduction"])


def bce_logits(t, a):
    w = opt(t, a, "weighted", 2)
    pw = t[3 if a["weighted"] else 2] if a["pos_weighted"] else None
    return F.binary_cross_entropy_with_logits(t[0], t[1], weight=w, reduction=a["reduction"], pos_weight=pw)


def ce(t, a):  # t: input, class indices, [weight]
    return F.cross_entropy(t[0], t[1], weight=opt(t, a, "weighted", 2), ignore_index=a["ignore_index"],
                           reduction=a["reduction"], label_smoothing=a["label_smoothing"])


def ce_probs(t, a):  # t: input, probabilities, [weight]
    return F.cross_entropy(t[0], t[1], weight=opt(t, a, "weighted", 2), reduction=a["reduction"],
                           label_smoothing=a["label_smoothing"])


def nll(t, a):
    return F.nll_loss(t[0], t[1], weight=opt(t, a, "weighted", 2), ignore_index=a["ignore_index"],
                      reduction=a["reduction"])


W5 = [0.5, 1.5, 0.25, 2.0, 1.0]
W4 = [1.25, 0.5, 2.0, 0.75]

for red in REDUCTIONS:
    # ---- regression losses: differentiable in the target too
    case(LOSS, "mse/" + red, "mse_loss", [randn(3, 4), randn(3, 4)],
         lambda t, a: F.mse_loss(t[0], t[1], reduction=a["reduction"]), reduction=red)
    case(LOSS, "l1/" + red, "l1_loss", [randn(3, 4), randn(3, 4)],
         lambda t, a: F.l1_loss(t[0], t[1], reduction=a["reduction"]), reduction=red)
    for beta in (1.0, 0.5, 0.0):
        case(LOSS, "smooth_l1/beta%g/%s" % (beta, red), "smooth_l1_loss", [randn(3, 4), randn(3, 4)],
             lambda t, a: F.smooth_l1_loss(t[0], t[1], reduction=a["reduction"], beta=a["beta"]),
             reduction=red, beta=beta)
    for delta in (1.0, 0.3):
        case(LOSS, "huber/delta%g/%s" % (delta, red), "huber_loss", [randn(3, 4), randn(3, 4)],
             lambda t, a: F.huber_loss(t[0], t[1], reduction=a["reduction"], delta=a["delta"]),
             reduction=red, delta=delta)

    # ---- binary cross entropy on probabilities
    case(LOSS, "bce/" + red, "binary_cross_entropy", [unif(0.05, 0.95, 3, 4), unif(0, 1, 3, 4)], bce,
         reduction=red, weighted=False)
    case(LOSS, "bce/weight/" + red, "binary_cross_entropy",
         [unif(0.05, 0.95, 3, 4), unif(0, 1, 3, 4), const(W4, grad=False)], bce, reduction=red, weighted=True)
    # Certain predictions: logs clamped at -100, gradient (x - y) / max(x (1 - x), 1e-12).
    # PyTorch's target gradient -logit(x) is infinite there, so the target is a constant.
    case(LOSS, "bce/at_0_and_1/" + red, "binary_cross_entropy",
         [const([0.0, 0.0, 1.0, 1.0, 0.5, 0.25]), const([0.0, 1.0, 0.0, 1.0, 1.0, 0.0], grad=False)], bce,
         reduction=red, weighted=False)
    case(LOSS, "bce/at_0_and_1_weight/" + red, "binary_cross_entropy",
         [const([[0.0, 1.0], [1.0, 0.0]]), const([[1.0, 1.0], [0.0, 0.0]], grad=False), const([0.5, 2.0], grad=False)],
         bce, reduction=red, weighted=True)

    # ---- binary cross entropy on logits
    case(LOSS, "bce_logits/" + red, "binary_cross_entropy_with_logits", [unif(-6, 6, 3, 4), unif(0, 1, 3, 4)],
         bce_logits, reduction=red, weighted=False, pos_weighted=False)
    case(LOSS, "bce_logits/weight_pos_weight/" + red, "binary_cross_entropy_with_logits",
         [unif(-6, 6, 3, 4), unif(0, 1, 3, 4), unif(0.5, 2, 3, 1, grad=False), unif(0.5, 3, 4, grad=False)],
         bce_logits, reduction=red, weighted=True, pos_weighted=True)
    case(LOSS, "bce_logits/pos_weight/" + red, "binary_cross_entropy_with_logits",
         [unif(-6, 6, 2, 3, 4), unif(0, 1, 2, 3, 4), unif(0.5, 3, 4, grad=False)],
         bce_logits, reduction=red, weighted=False, pos_weighted=True)
    case(LOSS, "bce_logits/extreme/" + red, "binary_cross_entropy_with_logits",
         [const([0.0, 0.0, 30.0, -30.0, 100.0, -100.0, 100.0, -100.0]),
          const([1.0, 0.25, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])],
         bce_logits, reduction=red, weighted=False, pos_weighted=False)

    # ---- cross entropy, class indices
    CE_ARGS = dict(reduction=red, ignore_index=-100, label_smoothing=0.0, weighted=False)

    def ce_case(name, inputs, **over):
        case(LOSS, "cross_entropy/%s/%s" % (name, red), "cross_entropy", inputs, ce, **dict(CE_ARGS, **over))

    ce_case("basic", [randn(4, 5), index([1, 0, 4, 2])])
    ce_case("weight", [randn(4, 5), index([1, 0, 4, 2]), const(W5, grad=False)], weighted=True)
    ce_case("ignore", [randn(4, 5), index([1, -100, 4, -100])])
    ce_case("ignore_weight", [randn(4, 5), index([1, -100, 4, -100]), const(W5, grad=False)], weighted=True)
    ce_case("ignore_index2", [randn(4, 5), index([2, 0, 2, 3])], ignore_index=2)
    ce_case("smoothing", [randn(4, 5), index([1, 0, 4, 2])], label_smoothing=0.1)
    ce_case("smoothing_weight", [randn(4, 5), index([1, 0, 4, 2]), const(W5, grad=False)], weighted=True,
            label_smoothing=0.2)
    ce_case("smoothing_weight_ignore", [randn(4, 5), index([3, -100, 4, 1]), const(W5, grad=False)], weighted=True,
            label_smoothing=0.15)
    ce_case("4d", [randn(2, 4, 3, 2), index([[[0, 1], [3, 2], [1, 1]], [[2, 0], [3, 3], [0, 2]]])])
    ce_case("4d_weight_ignore_smoothing",
            [randn(2, 4, 3, 2), index([[[0, -100], [3, 2], [1, 1]], [[2, 0], [-100, 3], [0, 2]]]),
             const(W4, grad=False)], weighted=True, label_smoothing=0.1)
    ce_case("3d", [randn(2, 3, 5), index([[0, 1, 2, 1, 0], [2, 2, 1, 0, 1]])])
    ce_case("unbatched", [randn(5), index(3)])
    ce_case("unbatched_smoothing_weight", [randn(5), index(1), const(W5, grad=False)], weighted=True,
            label_smoothing=0.3)

    # ---- cross entropy, class probabilities (differentiable in the target)
    CEP_ARGS = dict(reduction=red, label_smoothing=0.0, weighted=False)

    def cep_case(name, inputs, **over):
        case(LOSS, "cross_entropy_probs/%s/%s" % (name, red), "cross_entropy_probs", inputs, ce_probs,
             **dict(CEP_ARGS, **over))

    cep_case("basic", [randn(4, 5), probs(4, 5)])
    cep_case("weight", [randn(4, 5), probs(4, 5), const(W5, grad=False)], weighted=True)
    cep_case("smoothing", [randn(4, 5), probs(4, 5)], label_smoothing=0.1)
    cep_case("smoothing_weight", [randn(4, 5), probs(4, 5), const(W5, grad=False)], weighted=True,
             label_smoothing=0.25)
    cep_case("4d_weight", [randn(2, 4, 3, 2), probs(2, 4, 3, 2), const(W4, grad=False)], weighted=True)
    cep_case("unbatched", [randn(5), probs(5, axis=0)], label_smoothing=0.1)

    # ---- negative log likelihood
    NLL_ARGS = dict(reduction=red, ignore_index=-100, weighted=False)

    def nll_case(name, inputs, **over):
        case(LOSS, "nll/%s/%s" % (name, red), "nll_loss", inputs, nll, **dict(NLL_ARGS, **over))

    nll_case("basic", [randn(4, 5), index([1, 0, 4, 2])])
    nll_case("weight_ignore", [randn(4, 5), index([1, -100, 4, 1]), const(W5, grad=False)], weighted=True)
    nll_case("ignore_index0", [randn(4, 5), index([0, 3, 0, 2])], ignore_index=0)
    nll_case("4d_weight", [randn(2, 4, 3, 2), index([[[0, 1], [3, 2], [1, 1]], [[2, 0], [3, -100], [0, 2]]]),
                           const(W4, grad=False)], weighted=True)
    nll_case("unbatched", [randn(5), index(4)])

# ---- Kullback-Leibler divergence: input log-probabilities, target probabilities
for red in REDUCTIONS + ("batchmean",):
    case(LOSS, "kl_div/" + red, "kl_div", [unif(-3, 0, 3, 4), unif(0.05, 1, 3, 4)],
         lambda t, a: F.kl_div(t[0], t[1], reduction=a["reduction"], log_target=a["log_target"]),
         reduction=red, log_target=False)
    case(LOSS, "kl_div/log_target/" + red, "kl_div", [unif(-3, 0, 3, 4), unif(-3, 0, 3, 4)],
         lambda t, a: F.kl_div(t[0], t[1], reduction=a["reduction"], log_target=a["log_target"]),
         reduction=red, log_target=True)
    # A zero target contributes 0 (xlogy). PyTorch's target gradient there is nan, so the
    # target is a constant in this case.
    case(LOSS, "kl_div/zero_target/" + red, "kl_div",
         [unif(-3, 0, 2, 3), const([[0.0, 0.5, 0.5], [0.25, 0.0, 0.75]], grad=False)],
         lambda t, a: F.kl_div(t[0], t[1], reduction=a["reduction"], log_target=a["log_target"]),
         reduction=red, log_target=False)

# Normalisation and embedding (read by tests/test_parity_norm.cpp): batch_norm in training
# (with the running statistics after the step as extra, non-differentiable outputs) and in
# eval, the BatchNorm2d module over two training steps with momentum=None then eval,
# instance_norm (input statistics with and without running stats, running statistics),
# the unbatched InstanceNorm2d module, group_norm (several groups, one group, one channel
# per group), layer_norm (one and two trailing dims, with and without affine) and embedding
# (padding_idx, negative padding_idx, repeated indices). Dropout has no case: its masks come
# from latent's Philox stream, not PyTorch's generator (test_norm.cpp checks its statistics).
# Executed in make_fixtures.py's namespace (case, randn, unif, index, F, torch, ...).
N_ = "norm"


def _bn_train(t, a):
    rm, rv = t[3].detach().clone(), t[4].detach().clone()
    y = F.batch_norm(t[0], rm, rv, t[1], t[2], training=True, momentum=a["momentum"], eps=a["eps"])
    return y, rm, rv


def _bn_train_no_affine(t, a):
    rm, rv = t[1].detach().clone(), t[2].detach().clone()
    y = F.batch_norm(t[0], rm, rv, None, None, training=True, momentum=a["momentum"], eps=a["eps"])
    return y, rm, rv


for _name, _shape, _mom, _eps in [("4d", (4, 3, 3, 5), 0.1, 1e-5), ("2d", (6, 4), 0.3, 1e-5),
                                  ("3d", (3, 2, 7), 0.1, 1e-3)]:
    _c = _shape[1]
    case(N_, "batch_norm/train_" + _name, "batch_norm_train",
         [randn(*_shape), unif(0.5, 2.0, _c), randn(_c), randn(_c, grad=False), unif(0.5, 2.0, _c, grad=False)],
         _bn_train, momentum=_mom, eps=_eps)
case(N_, "batch_norm/train_no_affine", "batch_norm_train_no_affine",
     [randn(5, 3, 4), randn(3, grad=False), unif(0.5, 2.0, 3, grad=False)], _bn_train_no_affine, momentum=0.1,
     eps=1e-5)
case(N_, "batch_norm/train_no_running_stats", "batch_norm_batch_stats", [randn(4, 3, 2, 3), unif(0.5, 2.0, 3), randn(3)],
     lambda t, a: F.batch_norm(t[0], None, None, t[1], t[2], training=True, eps=a["eps"]), eps=1e-5)
case(N_, "batch_norm/eval", "batch_norm_eval",
     [randn(4, 3, 2, 3), unif(0.5, 2.0, 3), randn(3), randn(3, grad=False), unif(0.5, 2.0, 3, grad=False)],
     lambda t, a: F.batch_norm(t[0], t[3], t[4], t[1], t[2], training=False, eps=a["eps"]), eps=1e-5)


def _bn_module_steps(t, a):
    # Two training steps with momentum=None (cumulative average), then eval on the first batch.
    m = torch.nn.BatchNorm2d(t[0].shape[1], momentum=None).to(t[0].dtype)
    with torch.no_grad():
        m.weight.copy_(t[2])
        m.bias.copy_(t[3])
    m(t[0])
    y_train = m(t[1])
    m.eval()
    y_eval = m(t[0])
    return y_train, y_eval, m.running_mean.detach().clone(), m.running_var.detach().clone()


case(N_, "BatchNorm2d/momentum_none_two_steps_then_eval", "batch_norm2d_module_steps",
     [randn(3, 2, 3, 4), randn(3, 2, 3, 4), unif(0.5, 2.0, 2, grad=False), randn(2, grad=False)], _bn_module_steps)


def _in_running(t, a):
    rm, rv = t[3].detach().clone(), t[4].detach().clone()
    y = F.instance_norm(t[0], rm, rv, t[1], t[2], use_input_stats=True, momentum=a["momentum"], eps=a["eps"])
    return y, rm, rv


case(N_, "instance_norm/affine", "instance_norm", [randn(2, 3, 4, 4), unif(0.5, 2.0, 3), randn(3)],
     lambda t, a: F.instance_norm(t[0], weight=t[1], bias=t[2], eps=a["eps"]), eps=1e-5)
case(N_, "instance_norm/no_affine_3d", "instance_norm_plain", [randn(3, 2, 9)],
     lambda t, a: F.instance_norm(t[0], eps=a["eps"]), eps=1e-5)
case(N_, "instance_norm/running_stats_update", "instance_norm_running",
     [randn(3, 2, 3, 3), unif(0.5, 2.0, 2), randn(2), randn(2, grad=False), unif(0.5, 2.0, 2, grad=False)],
     _in_running, momentum=0.2, eps=1e-5)
case(N_, "instance_norm/use_running_stats", "instance_norm_eval",
     [randn(2, 3, 3, 3), unif(0.5, 2.0, 3), randn(3), randn(3, grad=False), unif(0.5, 2.0, 3, grad=False)],
     lambda t, a: F.instance_norm(t[0], t[3], t[4], t[1], t[2], use_input_stats=False, eps=a["eps"]), eps=1e-5)
case(N_, "InstanceNorm2d/unbatched", "instance_norm2d_module", [randn(3, 4, 5)],
     lambda t, a: torch.nn.InstanceNorm2d(3)(t[0]))

for _name, _shape, _g in [("g2", (2, 4, 3, 5), 2), ("one_group", (3, 4, 2, 3), 1), ("per_channel", (2, 3, 4, 4), 3),
                          ("3d_input", (2, 6, 7), 3)]:
    case(N_, "group_norm/" + _name, "group_norm", [randn(*_shape), unif(0.5, 2.0, _shape[1]), randn(_shape[1])],
         lambda t, a: F.group_norm(t[0], a["num_groups"], t[1], t[2], a["eps"]), num_groups=_g, eps=1e-5)
case(N_, "group_norm/no_affine", "group_norm_plain", [randn(2, 6, 3, 3)],
     lambda t, a: F.group_norm(t[0], a["num_groups"], eps=a["eps"]), num_groups=2, eps=1e-3)

case(N_, "layer_norm/last_dim", "layer_norm", [randn(4, 6), unif(0.5, 2.0, 6), randn(6)],
     lambda t, a: F.layer_norm(t[0], a["normalized_shape"], t[1], t[2], a["eps"]), normalized_shape=[6], eps=1e-5)
case(N_, "layer_norm/two_trailing_dims", "layer_norm", [randn(2, 3, 4, 5), unif(0.5, 2.0, 4, 5), randn(4, 5)],
     lambda t, a: F.layer_norm(t[0], a["normalized_shape"], t[1], t[2], a["eps"]), normalized_shape=[4, 5], eps=1e-5)
case(N_, "layer_norm/no_affine", "layer_norm_plain", [randn(3, 2, 8)],
     lambda t, a: F.layer_norm(t[0], a["normalized_shape"], eps=a["eps"]), normalized_shape=[2, 8], eps=1e-3)
case(N_, "layer_norm/weight_only", "layer_norm_weight_only", [randn(5, 7), unif(0.5, 2.0, 7)],
     lambda t, a: F.layer_norm(t[0], a["normalized_shape"], t[1], None, a["eps"]), normalized_shape=[7], eps=1e-5)

case(N_, "embedding/padding_repeated", "embedding", [randn(5, 3), index([[1, 3, 1], [0, 3, 2], [1, 1, 4]])],
     lambda t, a: F.embedding(t[1], t[0], padding_idx=a["padding_idx"]), padding_idx=3)
case(N_, "embedding/negative_padding", "embedding", [randn(4, 2), index([3, 0, 3, 2, 0])],
     lambda t, a: F.embedding(t[1], t[0], padding_idx=a["padding_idx"]), padding_idx=-1)
case(N_, "embedding/no_padding", "embedding", [randn(6, 4), index([[5, 0], [5, 5], [2, 1]])],
     lambda t, a: F.embedding(t[1], t[0], padding_idx=a["padding_idx"]), padding_idx=None)

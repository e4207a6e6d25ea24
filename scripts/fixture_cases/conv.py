# Convolutions (read by tests/test_parity_conv.cpp): unfold/fold, conv2d (stride, padding,
# dilation, groups, no bias, unbatched input, reflect padding as nn.Conv2d(padding_mode=
# "reflect") runs it), conv_transpose2d (stride 2 with output_padding, groups, dilation),
# and F.pad(mode="reflect"). Executed in make_fixtures.py's namespace (case, randn, F, ...).
# Pair arguments are stored as [h, w] lists; a bias of None is a case without a bias input.
C = "conv"


def _unfold(name, shape, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    case(C, "unfold/" + name, "unfold", [randn(*shape)],
         lambda t, a: F.unfold(t[0], a["kernel"], a["dilation"], a["padding"], a["stride"]),
         kernel=list(kernel), dilation=list(dilation), padding=list(padding), stride=list(stride))


_unfold("k3", (2, 3, 5, 6), (3, 3))
_unfold("rect_all_args", (2, 2, 7, 6), (2, 3), (2, 1), (1, 2), (2, 1))
_unfold("stride_above_kernel", (1, 2, 7, 7), (2, 2), padding=(1, 1), stride=(3, 3))
_unfold("k1", (2, 3, 4, 4), (1, 1))
_unfold("chw_input", (2, 5, 4), (2, 2), padding=(1, 0))


def _fold(name, shape, output_size, kernel, dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    case(C, "fold/" + name, "fold", [randn(*shape)],
         lambda t, a: F.fold(t[0], a["output_size"], a["kernel"], a["dilation"], a["padding"], a["stride"]),
         output_size=list(output_size), kernel=list(kernel), dilation=list(dilation), padding=list(padding),
         stride=list(stride))


_fold("overlapping_k3", (2, 3 * 9, 12), (5, 6), (3, 3))  # 3x4 blocks of 3x3 over 5x6
_fold("rect_all_args", (2, 2 * 6, 32), (7, 6), (2, 3), (2, 1), (1, 2), (2, 1))
_fold("stride_above_kernel", (1, 2 * 4, 9), (7, 7), (2, 2), padding=(1, 1), stride=(3, 3))
_fold("unbatched", (2 * 4, 18), (5, 4), (2, 2), padding=(1, 0))


def _conv(name, x_shape, w_shape, bias=True, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    inputs = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[0])] if bias else [])
    case(C, "conv2d/" + name, "conv2d", inputs,
         lambda t, a: F.conv2d(t[0], t[1], t[2] if len(t) > 2 else None, a["stride"], a["padding"], a["dilation"],
                               a["groups"]),
         stride=list(stride), padding=list(padding), dilation=list(dilation), groups=groups)


_conv("k3", (2, 3, 6, 5), (4, 3, 3, 3))
_conv("k3_p1", (2, 3, 5, 5), (4, 3, 3, 3), padding=(1, 1))
_conv("dcgan_k4_s2_p1", (2, 3, 8, 8), (5, 3, 4, 4), stride=(2, 2), padding=(1, 1))
_conv("no_bias", (2, 3, 6, 6), (4, 3, 3, 3), bias=False, padding=(1, 1))
_conv("rect_all_args", (2, 2, 9, 8), (3, 2, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 3))
_conv("dilation2_groups2", (2, 4, 8, 7), (6, 2, 3, 3), padding=(2, 1), dilation=(2, 2), groups=2)
_conv("depthwise", (2, 3, 6, 6), (6, 1, 3, 3), padding=(1, 1), groups=3)
_conv("stride_above_kernel", (1, 2, 8, 8), (3, 2, 2, 2), stride=(3, 3), padding=(1, 1))
_conv("k1", (2, 4, 3, 3), (5, 4, 1, 1))
_conv("chw_input", (3, 6, 5), (4, 3, 3, 3), padding=(1, 1))
# 16x16 outputs (256 blocks per sample): latent multiplies these sample by sample.
_conv("per_sample_16x16", (2, 2, 16, 16), (3, 2, 3, 3), padding=(1, 1))
_conv("per_sample_groups_dilation_no_bias", (1, 4, 18, 18), (4, 2, 3, 3), bias=False, padding=(1, 1),
      dilation=(2, 2), groups=2)


def _conv_reflect(name, x_shape, w_shape, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1):
    # What nn.Conv2d(padding_mode="reflect") runs: reflect-pad by (w, w, h, h), then a padding-0 conv.
    case(C, "conv2d_reflect/" + name, "conv2d_reflect", [randn(*x_shape), randn(*w_shape), randn(w_shape[0])],
         lambda t, a: F.conv2d(F.pad(t[0], [a["padding"][1]] * 2 + [a["padding"][0]] * 2, mode="reflect"), t[1],
                               t[2], a["stride"], 0, a["dilation"], a["groups"]),
         stride=list(stride), padding=list(padding), dilation=list(dilation), groups=groups)


_conv_reflect("k3_p1", (2, 3, 5, 6), (4, 3, 3, 3))
_conv_reflect("k4_s2_p2_1", (2, 2, 6, 7), (3, 2, 4, 4), stride=(2, 2), padding=(2, 1))
_conv_reflect("groups2_dilation2", (1, 4, 6, 6), (4, 2, 3, 3), padding=(2, 2), dilation=(2, 2), groups=2)


def _conv_t(name, x_shape, w_shape, bias=True, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
            dilation=(1, 1)):
    inputs = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[1] * groups)] if bias else [])
    case(C, "conv_transpose2d/" + name, "conv_transpose2d", inputs,
         lambda t, a: F.conv_transpose2d(t[0], t[1], t[2] if len(t) > 2 else None, a["stride"], a["padding"],
                                         a["output_padding"], a["groups"], a["dilation"]),
         stride=list(stride), padding=list(padding), output_padding=list(output_padding), groups=groups,
         dilation=list(dilation))


_conv_t("k3", (2, 3, 4, 5), (3, 4, 3, 3))
_conv_t("dcgan_k4_s2_p1", (2, 4, 3, 3), (4, 2, 4, 4), stride=(2, 2), padding=(1, 1))
_conv_t("s2_output_padding1", (2, 3, 4, 3), (3, 2, 3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
_conv_t("rect_output_padding", (1, 2, 3, 4), (2, 3, 3, 2), stride=(3, 2), padding=(1, 0), output_padding=(2, 1))
_conv_t("groups2", (2, 4, 3, 3), (4, 3, 3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 0), groups=2)
_conv_t("dilation2", (2, 2, 4, 4), (2, 3, 3, 2), padding=(1, 1), dilation=(2, 3))
_conv_t("output_padding_below_dilation", (1, 2, 4, 4), (2, 2, 3, 3), output_padding=(1, 1), dilation=(2, 2))
_conv_t("no_bias", (2, 3, 3, 3), (3, 2, 4, 4), bias=False, stride=(2, 2), padding=(1, 1))
_conv_t("dcgan_first_1x1_to_4x4", (2, 5, 1, 1), (5, 3, 4, 4))
_conv_t("chw_input", (3, 3, 4), (3, 2, 3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))


def _pad_reflect(name, shape, pads):
    case(C, "pad_reflect/" + name, "pad_reflect", [randn(*shape)],
         lambda t, a: F.pad(t[0], a["pads"], mode="reflect"), pads=list(pads))


_pad_reflect("last_dim", (2, 3, 5), (2, 3))
_pad_reflect("two_dims", (2, 2, 4, 5), (1, 3, 3, 2))
_pad_reflect("two_dims_of_chw", (2, 4, 5), (4, 0, 1, 3))
_pad_reflect("three_dims", (1, 2, 3, 4, 5), (1, 2, 2, 0, 1, 1))

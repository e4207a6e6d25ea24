# Pooling and resampling (read by tests/test_parity_pooling.cpp): max_pool2d with indices,
# avg_pool2d, adaptive_avg_pool2d, interpolate (nearest, nearest-exact, bilinear, area),
# pixel_shuffle/unshuffle. Executed in make_fixtures.py's namespace (case, randn, F, ...).
# Pair arguments are stored as [h, w] lists; a stride of None means "= kernel".
# Max pooling inputs are randn draws, so windows have no ties (PyTorch and latent both
# pick the first maximum, but a tie would make the gradient a convention, not a check).
P = "pooling"


def _max_pool(name, shape, kernel, stride=None, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    case(P, "max_pool2d/" + name, "max_pool2d", [randn(*shape)],
         lambda t, a: F.max_pool2d(t[0], a["kernel"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"],
                                   return_indices=True),
         kernel=list(kernel), stride=None if stride is None else list(stride), padding=list(padding),
         dilation=list(dilation), ceil_mode=ceil_mode)


_max_pool("k2", (2, 1, 6, 6), (2, 2))
_max_pool("k3_s2_p1", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1))
_max_pool("k3_s2_ceil", (1, 1, 6, 7), (3, 3), (2, 2), ceil_mode=True)
_max_pool("k2_s2_p1_ceil_last_window_dropped", (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), ceil_mode=True)
_max_pool("rect_dilation", (1, 1, 7, 8), (3, 2), (1, 2), (1, 1), (2, 2))
_max_pool("dilation3_ceil", (2, 1, 9, 8), (2, 2), (2, 3), (1, 0), (3, 2), ceil_mode=True)
_max_pool("overlap_s1", (1, 1, 5, 6), (3, 2), (1, 1))
_max_pool("chw_input", (2, 5, 5), (2, 2), (1, 1))


def _avg_pool(name, shape, kernel, stride=None, padding=(0, 0), ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    case(P, "avg_pool2d/" + name, "avg_pool2d", [randn(*shape)],
         lambda t, a: F.avg_pool2d(t[0], a["kernel"], a["stride"], a["padding"], a["ceil_mode"],
                                   a["count_include_pad"], a["divisor_override"]),
         kernel=list(kernel), stride=None if stride is None else list(stride), padding=list(padding),
         ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)


_avg_pool("k2", (2, 1, 6, 6), (2, 2))
for _inc in (True, False):
    _tag = "include_pad" if _inc else "exclude_pad"
    _avg_pool("k3_s2_p1_" + _tag, (1, 1, 7, 7), (3, 3), (2, 2), (1, 1), count_include_pad=_inc)
    _avg_pool("k3_s2_p1_ceil_" + _tag, (1, 1, 6, 8), (3, 3), (2, 2), (1, 1), ceil_mode=True, count_include_pad=_inc)
    _avg_pool("k2_s2_p1_ceil_" + _tag, (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), ceil_mode=True, count_include_pad=_inc)
_avg_pool("divisor_override", (1, 1, 7, 6), (3, 3), (2, 2), (1, 1), ceil_mode=True, divisor_override=5)
_avg_pool("divisor_override_exclude_pad", (1, 1, 6, 6), (2, 3), (2, 2), (1, 1), count_include_pad=False,
          divisor_override=4)
_avg_pool("rect", (2, 1, 7, 6), (3, 2), (2, 1), (1, 0))
_avg_pool("chw_input", (2, 5, 6), (2, 3), (1, 2))


def _adaptive(name, shape, out):
    case(P, "adaptive_avg_pool2d/" + name, "adaptive_avg_pool2d", [randn(*shape)],
         lambda t, a: F.adaptive_avg_pool2d(t[0], a["output_size"]), output_size=list(out))


_adaptive("7x7_to_3x3", (1, 2, 7, 7), (3, 3))
_adaptive("5x7_to_4x3", (1, 1, 5, 7), (4, 3))
_adaptive("global", (2, 2, 6, 5), (1, 1))
_adaptive("upsampling_3x4_to_5x6", (1, 2, 3, 4), (5, 6))
_adaptive("identity", (1, 2, 4, 3), (4, 3))
_adaptive("chw_input", (2, 9, 7), (4, 3))


def _interp(name, shape, mode, size=None, scale_factor=None, align_corners=None, recompute_scale_factor=None):
    case(P, "interpolate/" + name, "interpolate", [randn(*shape)],
         lambda t, a: F.interpolate(t[0], size=a["size"], scale_factor=a["scale_factor"], mode=a["mode"],
                                    align_corners=a["align_corners"],
                                    recompute_scale_factor=a["recompute_scale_factor"]),
         size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
         recompute_scale_factor=recompute_scale_factor)


_interp("nearest_scale2", (1, 2, 4, 5), "nearest", scale_factor=[2.0, 2.0])
_interp("nearest_size_5x7_to_8x11", (1, 1, 5, 7), "nearest", size=[8, 11])
_interp("nearest_size_down", (1, 1, 7, 9), "nearest", size=[3, 4])
_interp("nearest_scale1.5", (1, 1, 5, 7), "nearest", scale_factor=[1.5, 1.5])
_interp("nearest_scale_1.7_3", (1, 1, 5, 3), "nearest", scale_factor=[1.7, 3.0])
_interp("nearest_scale1.7_recompute", (1, 1, 5, 7), "nearest", scale_factor=[1.7, 1.7], recompute_scale_factor=True)
_interp("nearest_scale0.6", (1, 1, 10, 7), "nearest", scale_factor=[0.6, 0.6])
_interp("nearest_exact_size", (1, 1, 5, 7), "nearest-exact", size=[8, 11])
_interp("nearest_exact_scale1.7", (1, 1, 5, 7), "nearest-exact", scale_factor=[1.7, 1.7])
_interp("nearest_exact_down", (1, 1, 9, 7), "nearest-exact", size=[4, 3])
for _ac in (False, True):
    _tag = "_align_corners" if _ac else ""
    _interp("bilinear_scale2" + _tag, (1, 1, 4, 5), "bilinear", scale_factor=[2.0, 2.0], align_corners=_ac)
    _interp("bilinear_size_5x7_to_8x11" + _tag, (1, 1, 5, 7), "bilinear", size=[8, 11], align_corners=_ac)
    _interp("bilinear_size_down" + _tag, (1, 1, 9, 8), "bilinear", size=[4, 3], align_corners=_ac)
    _interp("bilinear_scale1.7" + _tag, (1, 1, 5, 7), "bilinear", scale_factor=[1.7, 1.7], align_corners=_ac)
    _interp("bilinear_to_1x1" + _tag, (1, 1, 4, 5), "bilinear", size=[1, 1], align_corners=_ac)
_interp("bilinear_scale1.7_recompute", (1, 1, 5, 7), "bilinear", scale_factor=[1.7, 1.7], align_corners=False,
        recompute_scale_factor=True)
_interp("bilinear_scale_0.5_2.5", (1, 1, 8, 4), "bilinear", scale_factor=[0.5, 2.5], align_corners=False)
_interp("bilinear_same_height", (1, 1, 5, 4), "bilinear", size=[5, 9], align_corners=False)
_interp("area_size", (1, 1, 7, 9), "area", size=[3, 4])
_interp("area_scale0.5", (1, 1, 8, 7), "area", scale_factor=[0.5, 0.5])


def _shuffle(name, op, shape, r):
    fn = F.pixel_shuffle if op == "pixel_shuffle" else F.pixel_unshuffle
    case(P, op + "/" + name, op, [randn(*shape)], lambda t, a, fn=fn: fn(t[0], a["factor"]), factor=r)


_shuffle("r2", "pixel_shuffle", (1, 8, 3, 4), 2)
_shuffle("r3", "pixel_shuffle", (1, 18, 2, 3), 3)
_shuffle("chw_input", "pixel_shuffle", (8, 2, 3), 2)
_shuffle("5d_input", "pixel_shuffle", (2, 2, 4, 2, 3), 2)
_shuffle("r2", "pixel_unshuffle", (1, 2, 6, 4), 2)
_shuffle("r3", "pixel_unshuffle", (1, 2, 6, 9), 3)
_shuffle("chw_input", "pixel_unshuffle", (3, 4, 2), 2)

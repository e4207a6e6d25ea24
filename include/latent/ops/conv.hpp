// 2-D convolutions as torch.nn.functional: unfold (im2col) and fold (col2im), conv2d,
// conv_transpose2d, and reflection padding (pad_reflect; pad(x, pads, "reflect")).
//
// Gradients of every order: unfold and fold are linear and each other's adjoint, so each
// one's backward is the other. conv2d is unfold + one GEMM (mm/addmm/bmm) + views, and
// conv_transpose2d is one GEMM + fold, so their backward passes (and double backward, as a
// gradient penalty needs) are those ops' own. pad_reflect's backward is its adjoint, which
// adds each padded element back onto the element it mirrors; the adjoint's backward is
// pad_reflect again.
//
// Speed: a convolution builds one column matrix (C*kh*kw, N*L) for the whole batch, so the
// GEMM runs once over the batch instead of once per sample (the per-sample products of a
// DCGAN layer are too thin to keep OpenBLAS busy). The im2col/col2im kernels split the
// (sample, channel) planes across threads; each thread owns whole rows (im2col) or whole
// image planes (col2im), so nothing is shared and the inner loops run over contiguous
// block rows.
// Glossary: N batch, C channels, H W image size, kh kw kernel, oh ow blocks (output size of
// a convolution), L = oh*ow, G groups.
#pragma once
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "../core/int_pair.hpp"
#include "linalg.hpp"

namespace latent {


namespace detail {

// Where the sliding blocks of a convolution sit on an image plane: block (by, bx) with tap
// (i, j) reads pixel (by*sh - ph + i*dh, bx*sw - pw + j*dw); pixels outside are zero.
// For conv_transpose2d the "image" is the output and the blocks are the input pixels, so
// oh/ow are given, not derived.
struct BlockGeometry {
  int64_t channels, height, width;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;
  int64_t rows() const { return channels * kh * kw; }
  int64_t blocks() const { return oh * ow; }
};

// kBatchMajor is F.unfold's (N, C*kh*kw, L); kBatchInColumns is (C*kh*kw, N*L), one matrix
// for the whole batch (column n*L + l is block l of sample n), which a convolution
// multiplies by its weight in a single GEMM.
enum class ColumnLayout { kBatchMajor, kBatchInColumns };

// The blocks [lo, hi) along one dim whose tap at `offset` (= i*d - p) reads inside [0, size).
inline std::pair<int64_t, int64_t> valid_blocks(int64_t offset, int64_t stride, int64_t size, int64_t blocks) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
  hi = std::min(hi, blocks);
  return {std::min(lo, hi), hi};
}

inline int64_t conv_output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  int64_t span = size + 2 * padding - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;  // C++ division truncates toward 0; span < 0 means no block fits
}

inline void check_window_args(const char* op, const IntPair& kernel, const IntPair& stride, const IntPair& padding,
                              const IntPair& dilation) {
  LATENT_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel_size must be positive, got ", kernel);
  LATENT_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got ", stride);
  LATENT_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", padding);
  LATENT_CHECK(dilation.h > 0 && dilation.w > 0, op, ": dilation must be positive, got ", dilation);
}

// Where tap rows sit in a column matrix: element (sample n, row r, block l) is at
// n * sample + r * row + l.
struct ColumnStrides {
  int64_t sample, row;
};
inline ColumnStrides column_strides(const BlockGeometry& g, int64_t batch, ColumnLayout layout) {
  if (layout == ColumnLayout::kBatchInColumns) return {g.blocks(), batch * g.blocks()};
  return {g.rows() * g.blocks(), g.blocks()};
}

// Calls segment(n, c, i, j, offset) for every (sample, channel, tap) of a column matrix,
// `offset` locating that tap's L block values of sample n, split across threads by
// (channel, run of samples) so that a thread owns the image planes (n, c) of its items
// and every column segment they feed. The visiting order follows the memory: where a
// plane's taps are adjacent rows (kBatchMajor) samples go outside and taps inside; where
// one row holds a tap of every sample (kBatchInColumns) taps go outside and the samples of
// a run write (or read) consecutive stretches of it. (That order matters: a 64-sample batch
// visited sample by sample touches a different page of the 12 MB column matrix at every
// step, and the TLB misses cost more than the copy.)
template <typename Segment>
void for_each_column_segment(const BlockGeometry& g, int64_t batch, ColumnStrides strides, Segment&& segment) {
  const int64_t L = g.blocks(), taps = g.kh * g.kw;
  const bool taps_outside = strides.sample < strides.row;
  // In that order, enough runs to keep the threads busy when there are few channels (a
  // transposed conv down to 1 channel).
  const int64_t threads = get_num_threads();
  const int64_t runs =
      taps_outside ? std::clamp<int64_t>(4 * threads / std::max<int64_t>(g.channels, 1), 1, batch) : batch;
  parallel_for(g.channels * runs, batch / runs * taps * L, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t c = item / runs, run = item % runs;
      const int64_t n0 = batch * run / runs, n1 = batch * (run + 1) / runs;
      auto visit = [&](int64_t n, int64_t i, int64_t j) {
        segment(n, c, i, j, n * strides.sample + (c * taps + i * g.kw + j) * strides.row);
      };
      if (taps_outside) {
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j)
            for (int64_t n = n0; n < n1; ++n) visit(n, i, j);
      } else {
        for (int64_t n = n0; n < n1; ++n)
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) visit(n, i, j);
      }
    }
  });
}

// x (N, C, H, W) contiguous -> cols in `layout`; every element of cols is written.
// Plain loops rather than std::fill/std::copy calls: block rows are often a handful of
// elements (7 for a 14x14 map at stride 2), where a call costs more than the copy.
template <typename T>
void im2col_kernel(const T* x, T* cols, const BlockGeometry& g, int64_t batch, ColumnStrides strides) {
  const int64_t plane = g.height * g.width;
  for_each_column_segment(g, batch, strides, [&](int64_t n, int64_t c, int64_t i, int64_t j, int64_t at) {
    const T* image = x + (n * g.channels + c) * plane;
    T* row = cols + at;
    const int64_t y_offset = i * g.dh - g.ph, x_offset = j * g.dw - g.pw;
    auto [y_lo, y_hi] = valid_blocks(y_offset, g.sh, g.height, g.oh);
    auto [x_lo, x_hi] = valid_blocks(x_offset, g.sw, g.width, g.ow);
    for (int64_t k = 0; k < y_lo * g.ow; ++k) row[k] = T(0);
    for (int64_t by = y_lo; by < y_hi; ++by) {
      T* dst = row + by * g.ow;
      const T* src = image + (by * g.sh + y_offset) * g.width;
      for (int64_t bx = 0; bx < x_lo; ++bx) dst[bx] = T(0);
      if (g.sw == 1) {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[bx] = src[bx + x_offset];
      } else if (g.sw == 2) {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[bx] = src[2 * bx + x_offset];
      } else {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[bx] = src[bx * g.sw + x_offset];
      }
      for (int64_t bx = x_hi; bx < g.ow; ++bx) dst[bx] = T(0);
    }
    for (int64_t k = y_hi * g.ow; k < g.blocks(); ++k) row[k] = T(0);
  });
}

// cols in `layout` -> x (N, C, H, W) contiguous: each pixel is the sum of the column
// entries that read it. A thread owns whole image planes, so the sums need no atomics.
template <typename T>
void col2im_kernel(const T* cols, T* x, const BlockGeometry& g, int64_t batch, ColumnStrides strides) {
  const int64_t plane = g.height * g.width;
  for_each_column_segment(g, batch, strides, [&](int64_t n, int64_t c, int64_t i, int64_t j, int64_t at) {
    T* image = x + (n * g.channels + c) * plane;
    if (i == 0 && j == 0) std::fill(image, image + plane, T(0));  // the first tap of (n, c) visited
    const T* row = cols + at;
    const int64_t y_offset = i * g.dh - g.ph, x_offset = j * g.dw - g.pw;
    auto [y_lo, y_hi] = valid_blocks(y_offset, g.sh, g.height, g.oh);
    auto [x_lo, x_hi] = valid_blocks(x_offset, g.sw, g.width, g.ow);
    for (int64_t by = y_lo; by < y_hi; ++by) {
      const T* src = row + by * g.ow;
      T* dst = image + (by * g.sh + y_offset) * g.width;
      if (g.sw == 1) {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[bx + x_offset] += src[bx];
      } else if (g.sw == 2) {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[2 * bx + x_offset] += src[bx];
      } else {
        for (int64_t bx = x_lo; bx < x_hi; ++bx) dst[bx * g.sw + x_offset] += src[bx];
      }
    }
  });
}

template <typename T>
Tensor<T> col2im(const Tensor<T>& cols, const BlockGeometry& g, int64_t batch, ColumnLayout layout);

// The CUDA kernels' form of a geometry and column layout.
inline cuda::ConvGeometry cuda_geometry(const BlockGeometry& g, int64_t batch, ColumnStrides s) {
  return {batch, g.channels, g.height, g.width, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow,
          s.sample, s.row};
}

// x (N, C, H, W) -> columns in `layout`; backward: col2im.
template <typename T>
Tensor<T> im2col(const Tensor<T>& x, const BlockGeometry& g, ColumnLayout layout) {
  const int64_t batch = x.shape()[0];
  Shape shape = layout == ColumnLayout::kBatchMajor ? Shape{batch, g.rows(), g.blocks()}
                                                    : Shape{g.rows(), batch * g.blocks()};
  auto out = Tensor<T>::empty(shape, x.device());
  auto source = x.detach().contiguous();
  if (x.device().is_cuda()) {
    auto cg = cuda_geometry(g, batch, column_strides(g, batch, layout));
    if constexpr (std::is_same_v<T, float>) cuda::backend().im2col_f32(x.device().index, source.data(), out.data(), cg);
    else if constexpr (std::is_same_v<T, double>) cuda::backend().im2col_f64(x.device().index, source.data(), out.data(), cg);
    else cuda_type_error("unfold", x);
  } else {
    im2col_kernel(source.data(), out.data(), g, batch, column_strides(g, batch, layout));
  }
  autograd::record("im2col", out, {&x}, [g, batch, layout](const Tensor<T>& grad, autograd::NeedsMask) {
    return Grads<T>{col2im(grad, g, batch, layout)};
  });
  return out;
}

// Columns in `layout` -> (N, C, H, W), summing overlaps; backward: im2col.
template <typename T>
Tensor<T> col2im(const Tensor<T>& cols, const BlockGeometry& g, int64_t batch, ColumnLayout layout) {
  auto out = Tensor<T>::empty(Shape{batch, g.channels, g.height, g.width}, cols.device());
  auto source = cols.detach().contiguous();
  if (cols.device().is_cuda()) {
    auto cg = cuda_geometry(g, batch, column_strides(g, batch, layout));
    if constexpr (std::is_same_v<T, float>) cuda::backend().col2im_f32(cols.device().index, source.data(), out.data(), cg);
    else if constexpr (std::is_same_v<T, double>) cuda::backend().col2im_f64(cols.device().index, source.data(), out.data(), cg);
    else cuda_type_error("fold", cols);
  } else {
    col2im_kernel(source.data(), out.data(), g, batch, column_strides(g, batch, layout));
  }
  autograd::record("col2im", out, {&cols}, [g, layout](const Tensor<T>& grad, autograd::NeedsMask) {
    return Grads<T>{im2col(grad, g, layout)};
  });
  return out;
}

// The blocks of a kernel sliding over an image of shape (..., C, H, W); oh or ow is 0 when
// no block fits (the callers say why in their own words).
inline BlockGeometry unfold_geometry(const char* op, const Shape& image, const IntPair& kernel,
                                     const IntPair& dilation, const IntPair& padding, const IntPair& stride) {
  check_window_args(op, kernel, stride, padding, dilation);
  int r = image.rank();
  BlockGeometry g{image[r - 3], image[r - 2], image[r - 1], kernel.h, kernel.w, stride.h, stride.w,
                  padding.h, padding.w, dilation.h, dilation.w, 0, 0};
  g.oh = conv_output_size(g.height, g.kh, g.sh, g.ph, g.dh);
  g.ow = conv_output_size(g.width, g.kw, g.sw, g.pw, g.dw);
  return g;
}

inline void check_blocks(const char* op, const BlockGeometry& g, const IntPair& kernel, const IntPair& dilation,
                         const IntPair& padding, const IntPair& stride) {
  LATENT_CHECK(g.oh > 0 && g.ow > 0, op, ": given an input with spatial size ", IntPair(g.height, g.width),
               ", kernel_size=", kernel, ", dilation=", dilation, ", padding=", padding, ", stride=", stride,
               ", the array of sliding blocks would be ", IntPair(g.oh, g.ow),
               ", but each of its sizes must be at least one");
}

// The mirror index of every position of a reflect-padded dim, for each padded dim
// (innermost first, PyTorch's pads order).
inline std::vector<std::vector<int64_t>> reflect_index_maps(const Shape& in, const std::vector<int64_t>& pads) {
  int k = static_cast<int>(pads.size()) / 2;
  std::vector<std::vector<int64_t>> maps(k);
  for (int i = 0; i < k; ++i) {
    int64_t n = in[in.rank() - 1 - i], left = pads[2 * i], right = pads[2 * i + 1];
    for (int64_t o = 0; o < n + left + right; ++o) {
      int64_t j = o - left;
      maps[i].push_back(j < 0 ? -j : (j >= n ? 2 * (n - 1) - j : j));
    }
  }
  return maps;
}

// Reflect padding between contiguous x (shape in) and padded (shape out): gathers
// padded = pad(x) when !adjoint, else x = 0 then x[mirror] += padded (the adjoint).
template <typename T>
void reflect_pad_kernel(T* x, T* padded, const Shape& in, const Shape& out, const std::vector<int64_t>& pads,
                        bool adjoint) {
  auto maps = reflect_index_maps(in, pads);
  int k = static_cast<int>(maps.size()), rank = in.rank();
  int64_t outer = 1, in_plane = 1, out_plane = 1;
  for (int d = 0; d < rank - k; ++d) outer *= in[d];
  for (int d = rank - k; d < rank; ++d) in_plane *= in[d], out_plane *= out[d];
  const int64_t out_len = out[rank - 1], rows = out_plane / std::max<int64_t>(out_len, 1);
  const std::vector<int64_t>& inner_map = maps[0];
  parallel_for(outer, out_plane, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      T* x_plane = x + p * in_plane;
      T* padded_plane = padded + p * out_plane;
      if (adjoint) std::fill(x_plane, x_plane + in_plane, T(0));
      for (int64_t r = 0; r < rows; ++r) {
        // The input row that padded row r mirrors: decode r over the outer padded dims.
        int64_t x_row = 0, rest = r, x_stride = in[rank - 1];
        for (int i = 1; i < k; ++i) {
          int64_t extent = out[rank - 1 - i];
          x_row += maps[i][rest % extent] * x_stride;
          rest /= extent;
          x_stride *= in[rank - 1 - i];
        }
        T* xr = x_plane + x_row;
        T* pr = padded_plane + r * out_len;
        if (adjoint) {
          for (int64_t o = 0; o < out_len; ++o) xr[inner_map[o]] += pr[o];
        } else {
          for (int64_t o = 0; o < out_len; ++o) pr[o] = xr[inner_map[o]];
        }
      }
    }
  });
}

inline Shape reflect_padded_shape(const char* op, const Shape& in, const std::vector<int64_t>& pads) {
  LATENT_CHECK(!pads.empty() && pads.size() % 2 == 0 && static_cast<int>(pads.size()) / 2 <= in.rank(), op,
               ": padding length ", pads.size(), " must be even, non-zero and at most twice the rank of the input "
               "(shape ", in, ")");
  Shape out = in;
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int dim = in.rank() - 1 - static_cast<int>(i);
    int64_t left = pads[2 * i], right = pads[2 * i + 1];
    LATENT_CHECK(left >= 0 && right >= 0, op, ": reflect padding must be non-negative, got (", left, ", ", right,
                 ") for dim ", dim, " of input shape ", in);
    LATENT_CHECK(left < in[dim] && right < in[dim], op, ": reflect padding (", left, ", ", right, ") of dim ", dim,
                 " must be less than that dim's size ", in[dim], " (input shape ", in, ")");
    out[dim] += left + right;
  }
  return out;
}

template <typename T>
Tensor<T> pad_reflect_backward(const Tensor<T>& g, const std::vector<int64_t>& pads, const Shape& in_shape);

}  // namespace detail

// F.pad(x, pads, mode="reflect"): pads = {last_left, last_right, prev_left, prev_right, ...},
// each in [0, size of its dim); the padding mirrors x without repeating the edge element.
template <typename T>
Tensor<T> pad_reflect(const Tensor<T>& x, const std::vector<int64_t>& pads) {
  Shape out_shape = detail::reflect_padded_shape("pad_reflect", x.shape(), pads);
  if (x.device().is_cuda()) {
    // Each padded dim is an index_select by its mirror map, whose backward (index_add) is
    // the adjoint: differentiable to any order without a kernel of its own.
    auto maps = detail::reflect_index_maps(x.shape(), pads);
    Tensor<T> y = x;
    for (size_t i = 0; i < maps.size(); ++i) {
      const int dim = x.dim() - 1 - static_cast<int>(i);
      auto map = from_vector<int64_t>(maps[i], Shape{static_cast<int64_t>(maps[i].size())}, x.device());
      y = index_select(y, dim, map);
    }
    return y;
  }
  auto out = Tensor<T>::empty(out_shape, x.device());
  auto source = x.detach().contiguous();
  if (out.numel() > 0) detail::reflect_pad_kernel(source.data(), out.data(), x.shape(), out_shape, pads, false);
  autograd::record("pad_reflect", out, {&x}, [pads, in_shape = x.shape()](const Tensor<T>& g, autograd::NeedsMask) {
    return detail::Grads<T>{detail::pad_reflect_backward(g, pads, in_shape)};
  });
  return out;
}

namespace detail {
// pad_reflect's adjoint: g of the padded shape -> in_shape, each padded element added onto
// the element it mirrors. Its backward is pad_reflect.
template <typename T>
Tensor<T> pad_reflect_backward(const Tensor<T>& g, const std::vector<int64_t>& pads, const Shape& in_shape) {
  auto out = Tensor<T>::empty(in_shape, g.device());
  auto source = g.detach().contiguous();
  if (out.numel() > 0) reflect_pad_kernel(out.data(), source.data(), in_shape, g.shape(), pads, true);
  autograd::record("pad_reflect_backward", out, {&g}, [pads](const Tensor<T>& gg, autograd::NeedsMask) {
    return Grads<T>{pad_reflect(gg, pads)};
  });
  return out;
}
}  // namespace detail

// F.pad with a mode: "constant" (value) or "reflect".
template <typename T>
Tensor<T> pad(const Tensor<T>& x, const std::vector<int64_t>& pads, const std::string& mode, double value = 0) {
  if (mode == "constant") return pad(x, pads, value);
  LATENT_CHECK(mode == "reflect", "pad: mode '", mode, "' is not supported (expected 'constant' or 'reflect')");
  LATENT_CHECK(value == 0, "pad: padding mode 'reflect' takes no fill value, got ", value);
  return pad_reflect(x, pads);
}

// F.unfold: x (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) or (C*kh*kw, L), row
// c*kh*kw + i*kw + j holding tap (i, j) of channel c for every block, blocks row-major.
template <typename T>
Tensor<T> unfold(const Tensor<T>& x, IntPair kernel_size, IntPair dilation = 1, IntPair padding = 0,
                 IntPair stride = 1) {
  LATENT_CHECK(x.dim() == 3 || x.dim() == 4, "unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ",
               x.shape());
  LATENT_CHECK(x.shape()[x.dim() - 3] > 0 && x.shape()[x.dim() - 2] > 0 && x.shape()[x.dim() - 1] > 0,
               "unfold: expected non-zero sizes for C, H and W, got input shape ", x.shape());
  auto g = detail::unfold_geometry("unfold", x.shape(), kernel_size, dilation, padding, stride);
  detail::check_blocks("unfold", g, kernel_size, dilation, padding, stride);
  if (x.dim() == 3) return detail::im2col(x.unsqueeze(0), g, detail::ColumnLayout::kBatchMajor).squeeze(0);
  return detail::im2col(x, g, detail::ColumnLayout::kBatchMajor);
}

// F.fold: columns (N, C*kh*kw, L) or (C*kh*kw, L) -> (N, C, H, W) or (C, H, W) with
// (H, W) = output_size, summing the entries that land on the same pixel. L must be the
// number of blocks unfold gives for that size.
template <typename T>
Tensor<T> fold(const Tensor<T>& cols, IntPair output_size, IntPair kernel_size, IntPair dilation = 1,
               IntPair padding = 0, IntPair stride = 1) {
  LATENT_CHECK(cols.dim() == 2 || cols.dim() == 3, "fold: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) "
               "input, got shape ", cols.shape());
  LATENT_CHECK(output_size.h > 0 && output_size.w > 0, "fold: output_size must be positive, got ", output_size);
  LATENT_CHECK(kernel_size.h > 0 && kernel_size.w > 0, "fold: kernel_size must be positive, got ", kernel_size);
  bool batched = cols.dim() == 3;
  int64_t rows = cols.shape()[batched ? 1 : 0], taps = kernel_size.h * kernel_size.w;
  LATENT_CHECK(rows > 0 && rows % taps == 0, "fold: expected size of input's dimension ", batched ? 1 : 0,
               " (", rows, ", input shape ", cols.shape(), ") to be a non-zero multiple of the kernel size ",
               kernel_size, " = ", taps);
  auto g = detail::unfold_geometry("fold", Shape{rows / taps, output_size.h, output_size.w}, kernel_size, dilation,
                                   padding, stride);
  detail::check_blocks("fold", g, kernel_size, dilation, padding, stride);
  int64_t blocks = cols.shape()[batched ? 2 : 1];
  LATENT_CHECK(blocks == g.blocks(), "fold: given output_size=", output_size, ", kernel_size=", kernel_size,
               ", dilation=", dilation, ", padding=", padding, ", stride=", stride, ", expected size of input's "
               "last dimension to be ", g.blocks(), " (", IntPair(g.oh, g.ow), " blocks), but got ", blocks,
               " (input shape ", cols.shape(), ")");
  if (!batched) return detail::col2im(cols.unsqueeze(0), g, 1, detail::ColumnLayout::kBatchMajor).squeeze(0);
  return detail::col2im(cols, g, cols.shape()[0], detail::ColumnLayout::kBatchMajor);
}

namespace detail {
template <typename T>
void check_conv_input(const char* op, const Tensor<T>& input, const Tensor<T>& weight) {
  check_same_device(op, input, weight);
  LATENT_CHECK(input.dim() == 3 || input.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
               "got shape ", input.shape());
  LATENT_CHECK(input.shape()[input.dim() - 2] > 0 && input.shape()[input.dim() - 1] > 0, op,
               ": expected non-zero H and W, got input shape ", input.shape());
  LATENT_CHECK(weight.dim() == 4, op, ": weight must be 4-D, got shape ", weight.shape());
}

template <typename T>
void check_conv_bias(const char* op, const Tensor<T>& bias, int64_t channels) {
  if (!bias.defined()) return;
  LATENT_CHECK(bias.dim() == 1 && bias.shape()[0] == channels, op, ": expected bias of shape [", channels,
               "] (one per output channel), got ", bias.shape());
}
}  // namespace detail

namespace detail {
inline int thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Blocks per sample from which conv2d multiplies sample by sample (conv2d_per_sample)
// rather than the whole batch at once: from there one sample's product is big enough to
// run at full GEMM speed, and its column block is still in cache when the GEMM reads it
// (a 3x3 conv of 64 channels on 32x32 maps runs 25% faster than with one batch GEMM).
// Below it, thin per-sample products (7x7 maps of a DCGAN discriminator) are slower than
// one GEMM over the batch.
inline constexpr int64_t kPerSampleBlocks = 256;

// conv2d of x (N, C, H, W) for maps of at least kPerSampleBlocks blocks, as one op: each
// sample's im2col feeds its GEMMs directly (threads take whole samples when there are
// enough, else the GEMMs use the threads), bias preloaded into the output. The columns go
// to a per-thread scratch, or, when the weight needs a gradient, into a (C*kh*kw, N*L)
// matrix kept for the backward. The backward is conv2d's gradient in differentiable ops
// (the same products and col2im the composed path records); under create_graph it
// recomputes the columns from x with im2col, so second derivatives reach x through them.
template <typename T>
Tensor<T> conv2d_per_sample(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                            const BlockGeometry& g, int64_t groups) {
  const int64_t N = x.shape()[0], O = weight.shape()[0], R = g.rows(), L = g.blocks();
  const int64_t rows_per_group = R / groups, out_per_group = O / groups, plane = g.channels * g.height * g.width;
  const bool keep_columns = is_grad_enabled() && weight.requires_grad();
  const int threads = get_num_threads();
  const bool across_samples = N >= threads;
  auto out = Tensor<T>::empty(Shape{N, O, g.oh, g.ow}, x.device());
  auto xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor<T> bc = bias.defined() ? bias.detach().contiguous() : Tensor<T>();
  auto cols = keep_columns ? Tensor<T>::empty(Shape{R, N * L}, x.device())
                           : Tensor<T>::empty(Shape{across_samples ? threads : 1, R, L}, x.device());
  auto one_sample = [&](int64_t n) {
    // Sample n's columns: its block of the kept matrix (row stride N*L), or this thread's scratch.
    T* col = keep_columns ? cols.data() + n * L : cols.data() + (across_samples ? thread_index() : 0) * R * L;
    const int64_t ld = keep_columns ? N * L : L;
    im2col_kernel(xc.data() + n * plane, col, g, 1, ColumnStrides{0, ld});
    T* y = out.data() + n * O * L;
    if (bc.defined())
      for (int64_t o = 0; o < O; ++o) std::fill(y + o * L, y + (o + 1) * L, bc.data()[o]);
    for (int64_t gi = 0; gi < groups; ++gi)
      cpu::gemm<T>(false, false, out_per_group, L, rows_per_group, T(1),
                   wc.data() + gi * out_per_group * rows_per_group, rows_per_group, col + gi * rows_per_group * ld,
                   ld, bc.defined() ? T(1) : T(0), y + gi * out_per_group * L, L);
  };
  if (across_samples) {
    parallel_for(N, O * R * L, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) one_sample(n);
    });
  } else {
    for (int64_t n = 0; n < N; ++n) one_sample(n);
  }
  if (!keep_columns) cols = Tensor<T>();
  autograd::record("conv2d", out, {&x, &weight, &bias},
                   [sx = autograd::SavedVariable<T>(x, false), sw = autograd::SavedVariable<T>(weight, false), cols, g,
                    groups, N, O, R, L, weight_shape = weight.shape()](const Tensor<T>& grad, autograd::NeedsMask mk) {
    const int64_t G = groups;
    auto gy = grad.permute({1, 0, 2, 3}).reshape({O, N * L});  // the output's gradient as (O, N*L)
    Grads<T> r(3);
    if (autograd::needs(mk, 1)) {
      auto x_saved = sx.unpack("conv2d");
      auto c = is_grad_enabled() || !cols.defined() ? im2col(x_saved, g, ColumnLayout::kBatchInColumns) : cols;
      r[1] = (G == 1 ? mm(gy, c.t())
                     : bmm(gy.view({G, O / G, N * L}), c.view({G, R / G, N * L}).transpose(1, 2)))
                 .reshape(weight_shape);
    }
    if (autograd::needs(mk, 0)) {
      auto w = sw.unpack("conv2d");
      auto gcols = G == 1 ? mm(w.reshape({O, R}).t(), gy)
                          : bmm(w.reshape({G, O / G, R / G}).transpose(1, 2), gy.view({G, O / G, N * L}))
                                .view({R, N * L});
      r[0] = col2im(gcols, g, N, ColumnLayout::kBatchInColumns);
    }
    if (autograd::needs(mk, 2)) r[2] = grad.sum({0, 2, 3});
    return r;
  });
  return out;
}
}  // namespace detail

// F.conv2d (cross-correlation): input (N, C, H, W) or (C, H, W), weight
// (O, C/groups, kh, kw), bias (O) or undefined -> (N, O, oh, ow) or (O, oh, ow).
template <typename T>
Tensor<T> conv2d(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>(),
                 IntPair stride = 1, IntPair padding = 0, IntPair dilation = 1, int64_t groups = 1) {
  detail::check_conv_input("conv2d", input, weight);
  LATENT_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);
  const bool batched = input.dim() == 4;
  auto x = batched ? input : input.unsqueeze(0);
  const int64_t N = x.shape()[0], C = x.shape()[1], O = weight.shape()[0];
  LATENT_CHECK(O % groups == 0, "conv2d: out_channels (weight shape ", weight.shape(),
               ") must be divisible by groups = ", groups);
  LATENT_CHECK(weight.shape()[1] * groups == C, "conv2d: given groups=", groups, ", weight of shape ",
               weight.shape(), " expects the input to have ", weight.shape()[1] * groups, " channels, but got ", C,
               " (input shape ", input.shape(), ")");
  detail::check_conv_bias("conv2d", bias, O);
  IntPair kernel(weight.shape()[2], weight.shape()[3]);
  auto g = detail::unfold_geometry("conv2d", x.shape(), kernel, dilation, padding, stride);
  LATENT_CHECK(g.oh > 0 && g.ow > 0, "conv2d: the output would be ", IntPair(g.oh, g.ow), " for input shape ",
               input.shape(), " (padded size ", IntPair(g.height + 2 * padding.h, g.width + 2 * padding.w),
               ") with kernel_size=", kernel, ", dilation=", dilation, ", stride=", stride,
               ": the dilated kernel cannot be larger than the padded input");
  const int64_t L = g.blocks(), rows_per_group = g.rows() / groups;
  if (L >= detail::kPerSampleBlocks && x.is_cpu()) {  // raw CPU pointers and GEMMs
    auto out = detail::conv2d_per_sample(x, weight, bias, g, groups);
    return batched ? out : out.squeeze(0);
  }
  // One GEMM over the whole batch: weight (O, C*kh*kw) times columns (C*kh*kw, N*L).
  auto cols = detail::im2col(x, g, detail::ColumnLayout::kBatchInColumns);
  Tensor<T> y;  // (O, N*L)
  if (groups == 1) {
    auto w = weight.reshape({O, g.rows()});
    y = bias.defined() ? addmm(bias.view({O, 1}), w, cols) : mm(w, cols);
  } else {
    y = bmm(weight.reshape({groups, O / groups, rows_per_group}), cols.view({groups, rows_per_group, N * L}))
            .view({O, N * L});
    if (bias.defined()) y = add(y, bias.view({O, 1}));
  }
  auto out = y.view({O, N, g.oh, g.ow}).permute({1, 0, 2, 3}).contiguous();
  return batched ? out : out.squeeze(0);
}

// F.conv_transpose2d (the gradient of conv2d w.r.t. its input): input (N, C_in, H, W) or
// (C_in, H, W), weight (C_in, C_out/groups, kh, kw), bias (C_out) or undefined ->
// (N, C_out, OH, OW), OH = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding_h + 1.
template <typename T>
Tensor<T> conv_transpose2d(const Tensor<T>& input, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>(),
                           IntPair stride = 1, IntPair padding = 0, IntPair output_padding = 0, int64_t groups = 1,
                           IntPair dilation = 1) {
  detail::check_conv_input("conv_transpose2d", input, weight);
  LATENT_CHECK(groups > 0, "conv_transpose2d: groups must be positive, got ", groups);
  const bool batched = input.dim() == 4;
  auto x = batched ? input : input.unsqueeze(0);
  const int64_t N = x.shape()[0], C_in = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  LATENT_CHECK(weight.shape()[0] == C_in, "conv_transpose2d: weight of shape ", weight.shape(),
               " (in_channels, out_channels / groups, kH, kW) expects the input to have ", weight.shape()[0],
               " channels, but got ", C_in, " (input shape ", input.shape(), ")");
  LATENT_CHECK(C_in % groups == 0, "conv_transpose2d: in_channels ", C_in, " must be divisible by groups = ", groups);
  const int64_t C_out = weight.shape()[1] * groups;
  detail::check_conv_bias("conv_transpose2d", bias, C_out);
  IntPair kernel(weight.shape()[2], weight.shape()[3]);
  detail::check_window_args("conv_transpose2d", kernel, stride, padding, dilation);
  LATENT_CHECK(output_padding.h >= 0 && output_padding.w >= 0 &&
                   (output_padding.h < stride.h || output_padding.h < dilation.h) &&
                   (output_padding.w < stride.w || output_padding.w < dilation.w),
               "conv_transpose2d: output_padding ", output_padding, " must be non-negative and smaller than "
               "either stride ", stride, " or dilation ", dilation, " in each dim");
  detail::BlockGeometry g{C_out, 0, 0, kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w,
                          dilation.h, dilation.w, H, W};
  g.height = (H - 1) * stride.h - 2 * padding.h + dilation.h * (kernel.h - 1) + output_padding.h + 1;
  g.width = (W - 1) * stride.w - 2 * padding.w + dilation.w * (kernel.w - 1) + output_padding.w + 1;
  LATENT_CHECK(g.height > 0 && g.width > 0, "conv_transpose2d: given input of spatial size ", IntPair(H, W),
               ", kernel_size=", kernel, ", stride=", stride, ", padding=", padding, ", output_padding=",
               output_padding, ", dilation=", dilation, ", the output would be ", IntPair(g.height, g.width),
               ", but each of its sizes must be at least one");
  const int64_t L = H * W, rows_per_group = g.rows() / groups, in_per_group = C_in / groups;

  auto xm = x.permute({1, 0, 2, 3}).reshape({C_in, N * L});  // (C_in, N*L), the blocks are the input pixels
  Tensor<T> cols;                                            // (C_out*kh*kw, N*L)
  if (groups == 1) {
    cols = mm(weight.reshape({C_in, g.rows()}).t(), xm);
  } else {
    cols = bmm(weight.reshape({groups, in_per_group, rows_per_group}).transpose(1, 2),
               xm.view({groups, in_per_group, N * L}))
               .view({g.rows(), N * L});
  }
  auto out = detail::col2im(cols, g, N, detail::ColumnLayout::kBatchInColumns);
  if (bias.defined()) out = add(out, bias.view({1, C_out, 1, 1}));
  return batched ? out : out.squeeze(0);
}

}  // namespace latent
